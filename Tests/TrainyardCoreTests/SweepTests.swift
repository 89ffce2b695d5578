import XCTest
@testable import TrainyardCore

final class DistributionTests: XCTestCase {
    func draws(_ d: Distribution, _ n: Int = 2000, seed: UInt64 = 3) -> [Double] {
        var rng = SplitMix64(seed: seed)
        return (0..<n).map { _ in d.sample(&rng).doubleValue! }
    }

    func testRangesAndQuantization() {
        let u = draws(.uniform(min: -2, max: 3))
        XCTAssertTrue(u.allSatisfy { (-2...3).contains($0) })
        XCTAssertEqual(u.reduce(0, +) / Double(u.count), 0.5, accuracy: 0.15)
        let q = draws(.quniform(min: 0, max: 10, q: 2.5))
        XCTAssertTrue(q.allSatisfy { ($0 / 2.5).rounded() == $0 / 2.5 && (0...10).contains($0) })
        XCTAssertEqual(Set(q), [0, 2.5, 5, 7.5, 10])
        let lu = draws(.loguniform(min: -6, max: -1))
        XCTAssertTrue(lu.allSatisfy { (Math.exp(-6)...Math.exp(-1)).contains($0) })
        // log(x) is uniform: its mean is the middle of the range.
        XCTAssertEqual(lu.map { Math.log($0) }.reduce(0, +) / Double(lu.count), -3.5, accuracy: 0.15)
        let ql = draws(.qloguniform(min: 0, max: 5, q: 10))
        XCTAssertTrue(ql.allSatisfy { $0.truncatingRemainder(dividingBy: 10) == 0 && $0 <= 150 })
        let n = draws(.normal(mu: 5, sigma: 2), 5000)
        let mean = n.reduce(0, +) / Double(n.count)
        XCTAssertEqual(mean, 5, accuracy: 0.1)
        XCTAssertEqual((n.map { ($0 - mean) * ($0 - mean) }.reduce(0, +) / Double(n.count)).squareRoot(), 2, accuracy: 0.1)
        XCTAssertTrue(draws(.qnormal(mu: 0, sigma: 5, q: 1)).allSatisfy { $0.rounded() == $0 })
        XCTAssertTrue(draws(.lognormal(mu: 0, sigma: 1)).allSatisfy { $0 > 0 })
        XCTAssertTrue(draws(.qlognormal(mu: 2, sigma: 1, q: 5)).allSatisfy { $0.truncatingRemainder(dividingBy: 5) == 0 && $0 >= 0 })
        let r = draws(.randint(upper: 4))
        XCTAssertEqual(Set(r), [0, 1, 2, 3])
        var rng = SplitMix64(seed: 1)
        let c = (0..<300).map { _ in Distribution.choice(["a", "b", 7]).sample(&rng) }
        XCTAssertEqual(Set(c.map { $0.serialized() }), ["\"a\"", "\"b\"", "7"])
    }

    func testSeededSamplingRepeats() {
        let space: [(String, Distribution)] = [("lr", .loguniform(min: -6, max: -1)), ("b", .choice([16, 32]))]
        let a = Sampler.random(space, seed: 7, count: 5), b = Sampler.random(space, seed: 7, count: 5), c = Sampler.random(space, seed: 8, count: 5)
        XCTAssertEqual(a.map { $0.map(\.1) }, b.map { $0.map(\.1) })
        XCTAssertNotEqual(a.map { $0.map(\.1) }, c.map { $0.map(\.1) })
    }

    func testGridEnumeratesChoicesOnly() throws {
        let g = try Sampler.grid([("a", .choice([1, 2])), ("b", .choice(["x", "y", "z"]))])
        XCTAssertEqual(g.count, 6)
        XCTAssertEqual(g.map { $0.map { $0.1.serialized() }.joined(separator: "|") }, ["1|\"x\"", "1|\"y\"", "1|\"z\"", "2|\"x\"", "2|\"y\"", "2|\"z\""])
        XCTAssertThrowsError(try Sampler.grid([("a", .choice([1])), ("lr", .uniform(min: 0, max: 1))])) {
            XCTAssertEqual("\($0)", "search_space.lr: grid sampling supports only choice parameters; lr is uniform (use random sampling, or make it a choice)")
        }
    }

    func testParsingAndErrors() {
        func msg(_ json: String) -> String {
            do { _ = try Distribution(parsing: JSONField.parse(json, source: "s")); return "ok" } catch { return error.description }
        }
        XCTAssertEqual(msg(#"{"type": "loguniform", "min_value": -6, "max_value": -1}"#), "ok")
        XCTAssertEqual(msg(#"{"type": "uniform", "min_value": 2, "max_value": 1}"#), "s: max_value: must be greater than min_value (2)")
        XCTAssertEqual(msg(#"{"type": "quniform", "min_value": 0, "max_value": 1, "q": 0}"#), "s: q: must be positive")
        XCTAssertEqual(msg(#"{"type": "choice", "values": []}"#), "s: values: needs at least one value")
        XCTAssertTrue(msg(#"{"type": "beta"}"#).hasPrefix("s: type: unknown type \"beta\""))
    }
}

final class EarlyTerminationTests: XCTestCase {
    typealias P = EarlyTerminationPolicy.Peer

    func testBanditSlackFactorBothGoals() {
        let bandit = EarlyTerminationPolicy.bandit(slackFactor: 0.2, slackAmount: nil, evaluationInterval: 1, delayEvaluation: 0)
        // Azure's example: best 0.8, slack 0.2 → threshold 0.66…; 0.6 stops, 0.7 goes on.
        XCTAssertNotNil(bandit.decide(history: [0.6], peers: [P(history: [0.8], finished: false)], goal: .maximize))
        XCTAssertNil(bandit.decide(history: [0.7], peers: [P(history: [0.8], finished: false)], goal: .maximize))
        // Minimize: best 1.0 loss, slack 0.2 → threshold 1.2.
        XCTAssertNotNil(bandit.decide(history: [1.3], peers: [P(history: [1.0], finished: false)], goal: .minimize))
        XCTAssertNil(bandit.decide(history: [1.1], peers: [P(history: [1.0], finished: false)], goal: .minimize))
        // The trial's best so far counts, and peers are compared at the same interval.
        XCTAssertNil(bandit.decide(history: [0.75, 0.5], peers: [P(history: [0.7, 0.8], finished: false)], goal: .maximize))
        XCTAssertNotNil(bandit.decide(history: [0.5, 0.6], peers: [P(history: [0.5, 0.9, 0.99], finished: true)], goal: .maximize))
    }

    func testBanditSlackAmountIntervalAndDelay() {
        let bandit = EarlyTerminationPolicy.bandit(slackFactor: nil, slackAmount: 0.1, evaluationInterval: 2, delayEvaluation: 3)
        let peers = [P(history: [0.9, 0.9, 0.9, 0.9], finished: false)]
        XCTAssertNil(bandit.decide(history: [0.1], peers: peers, goal: .maximize), "interval 1: not a multiple of 2")
        XCTAssertNil(bandit.decide(history: [0.1, 0.1], peers: peers, goal: .maximize), "interval 2: before the delay of 3")
        XCTAssertNil(bandit.decide(history: [0.1, 0.1, 0.1], peers: peers, goal: .maximize), "interval 3: not a multiple of 2")
        XCTAssertNotNil(bandit.decide(history: [0.1, 0.1, 0.1, 0.1], peers: peers, goal: .maximize))
        XCTAssertNil(bandit.decide(history: [0.1, 0.1, 0.1, 0.85], peers: peers, goal: .maximize), "within 0.1 of the best")
        XCTAssertNotNil(bandit.decide(history: [2, 2, 2, 2], peers: [P(history: [1, 1, 1, 1], finished: false)], goal: .minimize))
    }

    func testMedianStopping() {
        let median = EarlyTerminationPolicy.medianStopping(evaluationInterval: 1, delayEvaluation: 0, minimumTrials: 2)
        let peers = [P(history: [0.5, 0.7], finished: false), P(history: [0.6, 0.8], finished: true), P(history: [0.9], finished: false)]
        // At interval 2 two peers qualify: running averages 0.6 and 0.7, median 0.65.
        XCTAssertNotNil(median.decide(history: [0.4, 0.6], peers: peers, goal: .maximize))
        XCTAssertNil(median.decide(history: [0.4, 0.66], peers: peers, goal: .maximize))
        XCTAssertNil(median.decide(history: [0.1], peers: [P(history: [0.9], finished: false)], goal: .maximize), "one peer is not enough")
        // Minimize: loss averages 0.6 and 0.7 → median 0.65; best 0.7 is worse.
        XCTAssertNotNil(median.decide(history: [0.9, 0.7], peers: peers, goal: .minimize))
        XCTAssertNil(median.decide(history: [0.9, 0.6], peers: peers, goal: .minimize))
    }

    func testTruncationSelection() {
        let policy = EarlyTerminationPolicy.truncationSelection(percentage: 25, evaluationInterval: 1, delayEvaluation: 0, excludeFinished: false)
        let peers = (1...7).map { P(history: [Double($0) / 10], finished: $0 == 7) }  // 0.1 … 0.7
        XCTAssertNotNil(policy.decide(history: [0.05], peers: peers, goal: .maximize), "lowest of 8: in the bottom 25% (2)")
        XCTAssertNotNil(policy.decide(history: [0.15], peers: peers, goal: .maximize), "second lowest")
        XCTAssertNil(policy.decide(history: [0.25], peers: peers, goal: .maximize))
        XCTAssertNotNil(policy.decide(history: [0.75], peers: peers, goal: .minimize), "for minimize the largest are worst")
        let excluding = EarlyTerminationPolicy.truncationSelection(percentage: 25, evaluationInterval: 1, delayEvaluation: 0, excludeFinished: true)
        // Without the finished 0.7, 7 trials: cut 1; 0.15 has 0.1 below it → not in the lowest 1.
        XCTAssertNil(excluding.decide(history: [0.15], peers: peers, goal: .maximize))
        XCTAssertNotNil(excluding.decide(history: [0.05], peers: peers, goal: .maximize))
    }
}

final class SweepSpecTests: XCTestCase {
    let spec = #"""
    { "name": "mlp-sweep",
      "trial": { "max_steps": 300, "workers": 1, "ps": 1, "hidden": "256,128" },
      "search_space": { "learning_rate": {"type": "loguniform", "min_value": -6, "max_value": -1},
                        "batch_size": {"type": "choice", "values": [32, 64, 128]} },
      "sampling_algorithm": "random", "seed": 7,
      "objective": { "primary_metric": "accuracy", "goal": "maximize" },
      "limits": { "max_total_trials": 20, "max_concurrent_trials": 4, "timeout": 3600, "trial_timeout": 600 },
      "early_termination": { "type": "bandit", "slack_factor": 0.1, "evaluation_interval": 2, "delay_evaluation": 0 } }
    """#

    func testTheIssuesExampleParses() throws {
        let s = try SweepSpec(parsing: spec, source: "s.json")
        XCTAssertEqual(s.maxTotalTrials, 20)
        XCTAssertEqual(s.maxConcurrentTrials, 4)
        XCTAssertEqual(s.goal, .maximize)
        XCTAssertEqual(s.earlyTermination, .bandit(slackFactor: 0.1, slackAmount: nil, evaluationInterval: 2, delayEvaluation: 0))
        guard case .builtIn(let args, let w, let ps) = s.trial else { return XCTFail() }
        XCTAssertEqual(args, ["--max-steps", "300", "--hidden", "256,128"])
        XCTAssertEqual([w, ps], [1, 1])
        XCTAssertEqual(s.trials().count, 20)
        XCTAssertEqual(s.argument("learning_rate", 0.01), "--learning-rate=0.01")
    }

    func testErrorsNameTheField() {
        func msg(_ from: String, _ to: String) -> String {
            do { _ = try SweepSpec(parsing: spec.replacingOccurrences(of: from, with: to), source: "s.json"); return "ok" } catch { return error.description }
        }
        XCTAssertEqual(msg(#""sampling_algorithm": "random""#, #""sampling_algorithm": "grid""#),
                       "s.json: search_space.learning_rate: grid sampling supports only choice parameters; learning_rate is loguniform (use random sampling, or make it a choice)")
        XCTAssertEqual(msg(#""goal": "maximize""#, #""goal": "biggest""#), "s.json: objective.goal: must be maximize or minimize")
        XCTAssertEqual(msg(#""slack_factor": 0.1, "#, ""), "s.json: early_termination: a bandit policy needs slack_factor or slack_amount (one of them)")
        XCTAssertEqual(msg(#""max_steps": 300"#, #""max_stepz": 300"#), "s.json: trial.max_stepz: is not a known option (did you mean max_steps?)")
        XCTAssertEqual(msg(#""max_steps": 300"#, #""max_steps": 0"#), "s.json: trial.max_steps: must be in 1..., got 0")
        XCTAssertEqual(msg(#""max_steps": 300"#, #""sync": "yes""#), "s.json: trial.sync: expected true or false, got a string")
        XCTAssertEqual(msg(#""max_total_trials": 20"#, #""max_total_trials": 0"#), "s.json: limits.max_total_trials: 0 is out of range 1...1000")
        XCTAssertEqual(msg(#""type": "bandit""#, #""type": "hyperband""#), "s.json: early_termination.type: must be bandit, median_stopping or truncation_selection")
        XCTAssertEqual(msg(#""sampling_algorithm": "random""#, #""sampling_algorithm": "bayesian""#), "s.json: sampling_algorithm: bayesian sampling is not available locally: use random or grid")
    }

    func testCustomTrainerTrialsPassArgumentsVerbatim() throws {
        let s = try SweepSpec(parsing: spec.replacingOccurrences(of: #"{ "max_steps": 300, "workers": 1, "ps": 1, "hidden": "256,128" }"#,
                                                                  with: #"{ "command": "python3 train.py", "args": ["--epochs", "2"] }"#), source: "s.json")
        guard case .job(let job) = s.trial else { return XCTFail() }
        XCTAssertEqual(job.command, "python3 train.py")
        XCTAssertEqual(s.argument("learning_rate", 0.5), "--learning_rate=0.5")
    }

    func testMetricReports() {
        XCTAssertEqual(TrialMetrics.fromLogLine("[1.2s chief-0] trainyard-metric accuracy=0.91 loss=0.3 step=200"),
                       TrialMetrics.Report(step: 200, values: ["accuracy": 0.91, "loss": 0.3]))
        XCTAssertNil(TrialMetrics.fromLogLine("accuracy=0.9"))
        XCTAssertEqual(TrialMetrics.fromJSONLine(#"{"accuracy": 0.5, "step": 3, "note": "x"}"#), TrialMetrics.Report(step: 3, values: ["accuracy": 0.5]))
        let r = TrialMetrics.fromRecords([["kind": "train", "loss": 1], ["kind": "eval", "step": 10, "loss": 0.5, "accuracy": 0.8]])
        XCTAssertEqual(r, [TrialMetrics.Report(step: 10, values: ["loss": 0.5, "accuracy": 0.8])])
    }
}
