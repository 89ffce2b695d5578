import Foundation
import XCTest
@testable import TrainyardCore

/// Azure ML sweep job files (Tests/Fixtures/azure-sweep-job.yaml, Docs/sweeps.md) parse unchanged;
/// a field Azure lacks is refused with the nearest one it has.
final class AzureSweepJobTests: XCTestCase {
    static let fixture = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .appendingPathComponent("Fixtures/azure-sweep-job.yaml").path

    /// A minimal Azure sweep job with `extra` top-level YAML and `trial` lines.
    func yaml(_ extra: String = "", trial: String = "", space: String = "  lr:\n    type: uniform\n    min_value: 0.01\n    max_value: 0.1\n",
              sampling: String = "sampling_algorithm: random\n") -> String {
        "$schema: https://azuremlschemas.azureedge.net/latest/sweepJob.schema.json\ntype: sweep\nname: az\n" + sampling
            + "search_space:\n" + space
            + "objective:\n  primary_metric: accuracy\n  goal: maximize\n"
            + "trial:\n  command: python3 train.py --lr ${{search_space.lr}}\n" + trial
            + "limits:\n  max_total_trials: 4\n" + extra
    }

    func parse(_ text: String) throws -> SweepSpec { try SweepSpec(parsing: text, source: "specs/az.yaml") }

    func message(_ text: String) -> String {
        do { _ = try parse(text); return "ok" } catch { return "\(error)" }
    }

    func testTheFixtureParsesWithEveryFieldRecordedOrNoted() throws {
        let text = try String(contentsOfFile: Self.fixture, encoding: .utf8)
        let spec = try SweepSpec(parsing: text, source: Self.fixture)
        XCTAssertTrue(spec.azure)
        XCTAssertEqual(spec.name, "azure-fixture-sweep")
        XCTAssertEqual(spec.metadata.displayName, "Azure fixture sweep")
        XCTAssertEqual(spec.metadata.experimentName, "trainyard-azure")
        XCTAssertEqual(spec.metadata.description, "Sweeps a tiny script's learning rate and boosting type.")
        XCTAssertEqual(spec.metadata.tags, ["team": "trainyard"])
        XCTAssertEqual(spec.metadata.compute, "azureml:cpu-cluster")
        XCTAssertEqual(spec.metadata.environment, "azureml:AzureML-sklearn-1.0-ubuntu20.04-py38-cpu@latest")
        XCTAssertEqual(spec.sampling, .random)
        XCTAssertEqual(spec.seed, 42)
        XCTAssertEqual(spec.primaryMetric, "accuracy")
        XCTAssertEqual(spec.maxTotalTrials, 3)
        XCTAssertEqual(spec.maxConcurrentTrials, 2)
        XCTAssertEqual(spec.timeout, 600)
        XCTAssertEqual(spec.trialTimeout, 120)
        XCTAssertEqual(spec.earlyTermination, .bandit(slackFactor: 0.5, slackAmount: nil, evaluationInterval: 1, delayEvaluation: 2))
        guard case .job(let job) = spec.trial else { return XCTFail("not a command trial") }
        XCTAssertEqual(job.packagePath, (Self.fixture as NSString).deletingLastPathComponent + "/azure-sweep-code")
        XCTAssertTrue(job.packageIsWorkingDirectory)
        XCTAssertFalse(job.passesJobDir)
        XCTAssertEqual(job.environment, ["GREETING": "hello"])
        XCTAssertEqual(job.command, "python3 train.py --learning_rate ${{search_space.learning_rate}} --boosting ${{search_space.boosting}} --epochs 3 --data ./data")
        for key in ["compute azureml:cpu-cluster", "experiment_name trainyard-azure", "trial.environment", "rule sobol"] {
            XCTAssertTrue(spec.notes.contains { $0.contains(key) }, "\(key): \(spec.notes)")
        }
        XCTAssertTrue(spec.notes.allSatisfy { !$0.contains("\n") })
    }

    func testValuesArePlacedOnlyWhereTheCommandRefersToThem() throws {
        let spec = try parse(yaml())
        guard case .job(let base) = spec.trial else { return XCTFail() }
        let job = spec.job(base, parameters: [("lr", JSONValue(0.05))])
        XCTAssertEqual(job.command, "python3 train.py --lr 0.05")
        XCTAssertEqual(job.userArgs, [])
        // A command that does not refer to a parameter gets nothing appended (as Azure).
        let quiet = try parse(yaml().replacingOccurrences(of: " --lr ${{search_space.lr}}", with: ""))
        guard case .job(let b2) = quiet.trial else { return XCTFail() }
        XCTAssertEqual(quiet.job(b2, parameters: [("lr", JSONValue(0.05))]).userArgs, [])
        XCTAssertTrue(message(yaml().replacingOccurrences(of: "search_space.lr}}", with: "search_space.l}}")).contains("(did you mean lr?)"))
    }

    func testInputsAreSubstitutedAndUnknownOnesNamed() throws {
        let text = yaml("inputs:\n  data: ./data dir\n  epochs: 3\n  model:\n    type: uri_folder\n    path: azureml:model:1\n")
            .replacingOccurrences(of: "--lr ${{search_space.lr}}", with: "--lr ${{search_space.lr}} --data ${{inputs.data}} --epochs ${{inputs.epochs}} --m ${{inputs.model}}")
        let spec = try parse(text)
        guard case .job(let job) = spec.trial else { return XCTFail() }
        XCTAssertEqual(job.command, "python3 train.py --lr ${{search_space.lr}} --data './data dir' --epochs 3 --m azureml:model:1")
        XCTAssertTrue(spec.notes.contains { $0.hasPrefix("inputs.model: azureml:model:1 is not on this machine") })
        XCTAssertEqual(message(yaml("inputs:\n  data: x\n").replacingOccurrences(of: "--lr", with: "--d ${{inputs.dat}} --lr")),
                       "specs/az.yaml: trial.command: ${{inputs.dat}} names no entry of the top-level inputs (did you mean data?) (inputs: data)")
        XCTAssertTrue(message(yaml("inputs:\n  data: [1]\n")).contains("inputs.data: needs a literal value"))
    }

    func testCodeIsRelativeToTheSpecFilesFolder() throws {
        func code(_ c: String, source: String) throws -> String? {
            guard case .job(let job) = try SweepSpec(parsing: yaml(trial: "  code: \(c)\n"), source: source).trial else { return nil }
            return job.packagePath
        }
        XCTAssertEqual(try code("./src", source: "specs/az.yaml"), "specs/src")
        XCTAssertEqual(try code(".", source: "/home/u/proj/az.yaml"), "/home/u/proj")
        XCTAssertEqual(try code("../src/", source: "/home/u/proj/az.yaml"), "/home/u/src")
        XCTAssertEqual(try code("/abs/src", source: "az.yaml"), "/abs/src")
        XCTAssertEqual(try code("src", source: "az.yaml"), "src")
        XCTAssertTrue(message(yaml(trial: "  code: azureml:code:1\n")).contains("trial.code: must be a local folder here"))
    }

    func testEnvironmentIsAStringOrAnObject() throws {
        XCTAssertEqual(try parse(yaml(trial: "  environment: azureml:env:1\n")).metadata.environment, "azureml:env:1")
        let object = try parse(yaml(trial: "  environment:\n    image: mcr.microsoft.com/azureml/openmpi4.1.0-ubuntu20.04\n    conda_file: conda.yaml\n"))
        XCTAssertTrue(object.metadata.environment?.contains("openmpi4.1.0") ?? false)
        XCTAssertTrue(object.notes.contains { $0.hasPrefix("trial.environment ") })
        XCTAssertTrue(message(yaml(trial: "  environment: 3\n")).contains("trial.environment: expected a string (azureml:NAME:VERSION) or an environment object"))
        let vars = try parse(yaml(trial: "  environment_variables:\n    A: x\n    N: 2\n"))
        guard case .job(let job) = vars.trial else { return XCTFail() }
        XCTAssertEqual(job.environment, ["A": "x", "N": "2"])
    }

    func testTensorFlowDistributionBecomesTheCluster() throws {
        func cluster(_ trial: String) throws -> (Int?, Int?) {
            guard case .job(let job) = try parse(yaml(trial: trial)).trial else { return (nil, nil) }
            return (job.workers, job.parameterServers)
        }
        XCTAssertEqual(try cluster("  distribution:\n    type: tensorflow\n    worker_count: 3\n    parameter_server_count: 2\n").0, 2)
        XCTAssertEqual(try cluster("  distribution:\n    type: tensorflow\n    worker_count: 3\n    parameter_server_count: 2\n").1, 2)
        // worker_count defaults to resources.instance_count.
        XCTAssertEqual(try cluster("  distribution:\n    type: tensorflow\n  resources:\n    instance_count: 2\n").0, 1)
        XCTAssertEqual(try cluster("  resources:\n    instance_count: 1\n").0, nil)
        XCTAssertTrue(try parse(yaml(trial: "  resources:\n    instance_count: 2\n    instance_type: Standard_DS3_v2\n")).notes.count == 2)
        XCTAssertTrue(message(yaml(trial: "  distribution:\n    type: pytorch\n")).contains("trial.distribution.type: pytorch distribution is not available locally"))
        XCTAssertTrue(message(yaml(trial: "  distribution:\n    type: tensorflow\n    workers: 2\n"))
            .contains("trial.distribution.workers: is not a field of Azure ML's sweep job (did you mean worker_count? "))
    }

    func testFieldsAzureLacksAreRefusedNamingTheNearest() {
        XCTAssertTrue(message(yaml("experiment: x\n")).hasPrefix("specs/az.yaml: experiment: is not a field of Azure ML's sweep job (did you mean experiment_name? "))
        XCTAssertTrue(message(yaml(trial: "  enviroment: x\n")).contains("trial.enviroment: is not a field of Azure ML's sweep job (did you mean environment? "))
        XCTAssertTrue(message(yaml().replacingOccurrences(of: "max_total_trials", with: "max_trials"))
            .contains("limits.max_trials: is not a field of Azure ML's sweep job (did you mean max_total_trials? "))
        XCTAssertTrue(message(yaml(sampling: "sampling_algorithm:\n  type: random\n  seeds: 3\n")).contains("sampling_algorithm.seeds: is not a field of Azure ML's sweep job (did you mean seed? "))
        XCTAssertTrue(message(yaml("early_termination:\n  type: truncation_selection\n  truncation_percentage: 20\n  exclude_finished_jobs: true\n"))
            .contains("early_termination.exclude_finished_jobs: is not a field of Azure ML's sweep job"))
        XCTAssertTrue(message(yaml("seed: 3\n")).contains("seed: is not a field of Azure ML's sweep job"))
        XCTAssertTrue(message(yaml().replacingOccurrences(of: "type: sweep", with: "type: command")).contains("type: must be sweep"))
        // Fields that mean nothing here are accepted, each with one note.
        let spec = try? parse(yaml("identity:\n  type: managed\noutputs:\n  model:\n    type: uri_folder\ncompute: azureml:gpu\n"))
        XCTAssertEqual(spec?.notes.filter { $0.hasPrefix("identity") || $0.hasPrefix("outputs (model)") || $0.hasPrefix("compute azureml:gpu") }.count, 3)
    }

    func testSamplingAlgorithms() throws {
        XCTAssertEqual(try parse(yaml(sampling: "sampling_algorithm:\n  type: random\n  seed: 9\n  rule: random\n")).seed, 9)
        let sobol = try parse(yaml(sampling: "sampling_algorithm:\n  type: random\n  rule: sobol\n"))
        XCTAssertEqual(sobol.sampling, .random)
        XCTAssertEqual(sobol.notes.filter { $0.contains("sobol") }.count, 1)
        XCTAssertTrue(message(yaml(sampling: "sampling_algorithm:\n  type: random\n  rule: halton\n")).contains("sampling_algorithm.rule: must be random or sobol"))
        XCTAssertEqual(message(yaml(sampling: "sampling_algorithm: bayesian\n")), "specs/az.yaml: sampling_algorithm: bayesian sampling is not available locally: use random or grid")
        XCTAssertTrue(message(yaml(sampling: "sampling_algorithm: grid\n")).contains("grid sampling supports only choice parameters"))
        let grid = try parse(yaml(space: "  lr:\n    type: choice\n    values: [0.1, 0.2, 0.3]\n", sampling: "sampling_algorithm:\n  type: grid\n"))
        XCTAssertEqual(grid.trials().map { $0[0].1 }, [JSONValue(0.1), JSONValue(0.2), JSONValue(0.3)])
    }

    func testEverySearchSpaceType() throws {
        let space = """
          a: {type: choice, values: [1, 2]}
          b: {type: randint, upper: 5}
          c: {type: uniform, min_value: 0, max_value: 1}
          d: {type: quniform, min_value: 0, max_value: 10, q: 2}
          e: {type: loguniform, min_value: -3, max_value: 0}
          f: {type: qloguniform, min_value: 0, max_value: 3, q: 1}
          g: {type: normal, mu: 0, sigma: 1}
          h: {type: qnormal, mu: 10, sigma: 2, q: 1}
          i: {type: lognormal, mu: 0, sigma: 1}
          j: {type: qlognormal, mu: 1, sigma: 0.5, q: 1}
          lr: {type: uniform, min_value: 0.01, max_value: 0.1}

        """
        let spec = try parse(yaml(space: space))
        XCTAssertEqual(spec.searchSpace.map { $0.1.typeName },
                       ["choice", "randint", "uniform", "quniform", "loguniform", "qloguniform", "normal", "qnormal", "lognormal", "qlognormal", "uniform"])
        for trial in spec.trials() {
            XCTAssertTrue((0..<5).contains(trial[1].1.intValue ?? -1))
            XCTAssertEqual((trial[3].1.doubleValue ?? 1).truncatingRemainder(dividingBy: 2), 0)
        }
    }

    func testLimitsAndEarlyTermination() throws {
        XCTAssertEqual(try parse(yaml().replacingOccurrences(of: "limits:\n  max_total_trials: 4\n", with: "")).maxTotalTrials, 1000)
        XCTAssertTrue(message(yaml().replacingOccurrences(of: "max_total_trials: 4", with: "max_total_trials: 1001")).contains("limits.max_total_trials"))
        let limits = try parse(yaml().replacingOccurrences(of: "max_total_trials: 4\n", with: "max_total_trials: 4\n  max_concurrent_trials: 2\n  timeout: 3600\n  trial_timeout: 60\n"))
        XCTAssertEqual(limits.maxConcurrentTrials, 2)
        XCTAssertEqual(limits.timeout, 3600)
        XCTAssertEqual(limits.trialTimeout, 60)
        XCTAssertEqual(try parse(yaml("early_termination:\n  type: bandit\n  slack_amount: 0.2\n  evaluation_interval: 2\n  delay_evaluation: 4\n")).earlyTermination,
                       .bandit(slackFactor: nil, slackAmount: 0.2, evaluationInterval: 2, delayEvaluation: 4))
        XCTAssertTrue(message(yaml("early_termination:\n  type: bandit\n  slack_factor: 0.1\n  slack_amount: 0.2\n")).contains("one of them"))
        XCTAssertTrue(message(yaml("early_termination:\n  type: bandit\n")).contains("one of them"))
        XCTAssertEqual(try parse(yaml("early_termination:\n  type: median_stopping\n  evaluation_interval: 1\n  delay_evaluation: 5\n")).earlyTermination,
                       .medianStopping(evaluationInterval: 1, delayEvaluation: 5, minimumTrials: 2))
        XCTAssertTrue(message(yaml("early_termination:\n  type: median_stopping\n  minimum_trials: 3\n")).contains("early_termination.minimum_trials: is not a field"))
        XCTAssertEqual(try parse(yaml("early_termination:\n  type: truncation_selection\n  truncation_percentage: 20\n  evaluation_interval: 1\n  delay_evaluation: 5\n")).earlyTermination,
                       .truncationSelection(percentage: 20, evaluationInterval: 1, delayEvaluation: 5, excludeFinished: false))
        XCTAssertTrue(message(yaml("early_termination:\n  type: truncation_selection\n  truncation_percentage: 100\n")).contains("early_termination.truncation_percentage"))
        XCTAssertTrue(message(yaml("early_termination:\n  type: truncation_selection\n  truncation_percentage: 0\n")).contains("early_termination.truncation_percentage"))
    }

    func testNameMayComeFromDisplayNameAndTrainyardSpecsKeepTheirShape() throws {
        let unnamed = yaml("display_name: My sweep 2\n").replacingOccurrences(of: "name: az\n", with: "")
        XCTAssertEqual(try parse(unnamed).name, "My-sweep-2")
        // Trainyard's own shape: values are still appended when the command does not place them.
        let own = try parse(#"{ "name": "own", "trial": { "command": "python3 t.py" }, "search_space": { "lr": {"type": "choice", "values": [0.1]} },"#
                            + #" "seed": 3, "objective": { "primary_metric": "accuracy", "goal": "maximize" }, "limits": { "max_total_trials": 1 } }"#)
        XCTAssertFalse(own.azure)
        XCTAssertEqual(own.seed, 3)
        guard case .job(let job) = own.trial else { return XCTFail() }
        XCTAssertTrue(job.passesJobDir)
        XCTAssertEqual(own.job(job, parameters: [("lr", JSONValue(0.1))]).userArgs, ["--lr=0.1"])
    }
}
