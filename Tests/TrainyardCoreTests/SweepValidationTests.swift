import XCTest
@testable import TrainyardCore

/// A sweep's parameters are checked against its trial before any trial starts (exit 3, the field named).
final class SweepValidationTests: XCTestCase {
    func spec(trial: String = #"{ "max_steps": 300, "workers": 1, "ps": 1 }"#, space: String, metric: String = "accuracy") -> String {
        #"""
        { "name": "v", "trial": \#(trial), "search_space": { \#(space) },
          "seed": 7, "objective": { "primary_metric": "\#(metric)", "goal": "maximize" }, "limits": { "max_total_trials": 6 } }
        """#
    }

    func error(_ text: String) -> FieldError? {
        do { _ = try SweepSpec(parsing: text, source: "s.json"); return nil } catch { return error }
    }

    func message(_ text: String) -> String { error(text)?.description ?? "ok" }

    func testUnknownParameterNamesSuggestTheNearestOption() {
        let e = error(spec(space: #""learning_rat": {"type": "uniform", "min_value": 0.01, "max_value": 0.1}"#))
        XCTAssertEqual(e?.description, "s.json: search_space.learning_rat: is not an option of Trainyard's trainer (did you mean learning_rate?)")
        XCTAssertEqual(e?.exitCode, .invalidInput)
        XCTAssertTrue(message(spec(space: #""zzzzzzzzzz": {"type": "choice", "values": [1]}"#)).contains("expected one of: "))
        // The dashed spelling names the same option.
        XCTAssertEqual(message(spec(space: #""batch-size": {"type": "choice", "values": [16, 32]}"#)), "ok")
    }

    func testEveryChoiceValueMustFitTheOption() {
        XCTAssertEqual(message(spec(space: #""learning_rate": {"type": "choice", "values": [0.01, "fast"]}"#)),
                       "s.json: search_space.learning_rate.values[1]: learning_rate takes a number, got a string \"fast\"")
        XCTAssertEqual(message(spec(space: #""batch_size": {"type": "choice", "values": [32, 48.5]}"#)),
                       "s.json: search_space.batch_size.values[1]: batch_size takes a whole number, got a number 48.5")
        XCTAssertEqual(message(spec(space: #""batch_size": {"type": "choice", "values": [32, 0]}"#)),
                       "s.json: search_space.batch_size.values[1]: 0 is not a value of batch_size: must be in 1...65536, got 0")
        XCTAssertEqual(message(spec(space: #""optimizer": {"type": "choice", "values": ["adam", "rmsprop"]}"#)),
                       "s.json: search_space.optimizer.values[1]: rmsprop is not a value of optimizer: must be sgd, momentum or adam, got \"rmsprop\"")
        XCTAssertEqual(message(spec(space: #""sync": {"type": "choice", "values": [true, 1]}"#)),
                       "s.json: search_space.sync.values[1]: sync takes true or false, got a number 1")
        XCTAssertEqual(message(spec(space: #""hidden": {"type": "choice", "values": ["16,8", 32]}"#)), "ok")
    }

    func testContinuousDistributionsAreCheckedAtTheirBounds() {
        // momentum is 0...0.9999: uniform up to 1.5 can draw values the trainer rejects.
        XCTAssertEqual(message(spec(space: #""momentum": {"type": "uniform", "min_value": 0.5, "max_value": 1.5}"#)),
                       "s.json: search_space.momentum.max_value: 1.5 is not a value of momentum: must be between 0 and 0.9999, got 1.5")
        // loguniform's bounds are exp(min) and exp(max): exp(3) ≈ 20 > 10.
        XCTAssertTrue(message(spec(space: #""learning_rate": {"type": "loguniform", "min_value": -6, "max_value": 3}"#))
                        .hasPrefix("s.json: search_space.learning_rate.max_value: 20.08"))
        XCTAssertEqual(message(spec(space: #""learning_rate": {"type": "loguniform", "min_value": -6, "max_value": -1}"#)), "ok")
        // Whole-number options take randint, choice or a q-distribution with a whole q.
        XCTAssertEqual(message(spec(space: #""batch_size": {"type": "uniform", "min_value": 16, "max_value": 64}"#)),
                       "s.json: search_space.batch_size: batch_size takes a whole number, but uniform draws fractions (use randint, choice, or a q-distribution with a whole q)")
        XCTAssertEqual(message(spec(space: #""batch_size": {"type": "quniform", "min_value": 16, "max_value": 64, "q": 16}"#)), "ok")
        XCTAssertEqual(message(spec(space: #""batch_size": {"type": "randint", "upper": 64}"#)),
                       "s.json: search_space.batch_size: 0 is not a value of batch_size: must be in 1...65536, got 0")
        XCTAssertEqual(message(spec(space: #""optimizer": {"type": "uniform", "min_value": 0, "max_value": 1}"#)),
                       "s.json: search_space.optimizer: optimizer takes text, but uniform draws numbers (use choice)")
    }

    func testUnboundedDrawsAreCheckedAsSampled() {
        // normal(0.5, 2) draws momenta outside 0...0.9999 within six trials.
        let m = message(spec(space: #""momentum": {"type": "normal", "mu": 0.5, "sigma": 2}"#))
        XCTAssertTrue(m.hasPrefix("s.json: search_space: trial "), m)
        XCTAssertTrue(m.contains("would not start: --momentum must be between 0 and 0.9999"), m)
    }

    func testOptionsThatDoNotFitTogetherAreCaught() {
        XCTAssertEqual(message(spec(space: #""replicas_to_aggregate": {"type": "choice", "values": [2]}"#)),
                       "s.json: search_space: trial 0 (replicas_to_aggregate=2) would not start: replicas_to_aggregate needs sync")
    }

    func testMoreGradientsToAggregateThanTheTrialHasTasksAreCaught() {
        // workers 1: the chief and one worker, so a synchronous step takes two gradients at most.
        let trial = #"{ "max_steps": 300, "workers": 1, "ps": 1, "sync": true }"#
        let m = message(spec(trial: trial, space: #""replicas_to_aggregate": {"type": "choice", "values": [3]}"#))
        XCTAssertTrue(m.hasPrefix("s.json: search_space: trial 0 (replicas_to_aggregate=3) would not start: replicas_to_aggregate 3: the trial's cluster has 2 training tasks"), m)
        XCTAssertTrue(m.hasSuffix("use 2 or less, or more trial.workers"), m)
        XCTAssertEqual(message(spec(trial: trial, space: #""replicas_to_aggregate": {"type": "choice", "values": [1, 2]}"#)), "ok")
    }

    func testTheBuiltInTrainerReportsAccuracyAndLossOnly() {
        XCTAssertEqual(message(spec(space: #""momentum": {"type": "choice", "values": [0.5]}"#, metric: "f1")),
                       "s.json: objective.primary_metric: Trainyard's trainer reports accuracy and loss, not \"f1\"")
    }

    func testCommandReferencesMustNameParameters() throws {
        let trial = #"{ "command": "python3 train.py --lr ${{search_space.lr}} --m ${{search_space.momentum}}" }"#
        let space = #""lr": {"type": "choice", "values": [0.1]}, "momentum": {"type": "choice", "values": ["a b"]}"#
        let s = try SweepSpec(parsing: spec(trial: trial, space: space), source: "s.json")
        guard case .job(let base) = s.trial else { return XCTFail() }
        let job = s.job(base, parameters: [("lr", 0.1), ("momentum", "a b")])
        XCTAssertEqual(job.command, "python3 train.py --lr 0.1 --m 'a b'")
        XCTAssertEqual(job.userArgs, [], "values referenced in the command are not appended again")
        // Without references the values follow the args.
        let plain = try SweepSpec(parsing: spec(trial: #"{ "command": "python3 train.py" }"#, space: space), source: "s.json")
        guard case .job(let plainBase) = plain.trial else { return XCTFail() }
        XCTAssertEqual(plain.job(plainBase, parameters: [("lr", 0.1)]).userArgs, ["--lr=0.1"])

        XCTAssertEqual(message(spec(trial: #"{ "command": "python3 train.py --lr ${{search_space.lrr}}" }"#, space: space)),
                       "s.json: trial.command: ${{search_space.lrr}} names no parameter of search_space (did you mean lr?) (parameters: lr, momentum)")
        XCTAssertEqual(message(spec(trial: #"{ "command": "python3 train.py", "args": ["--x", "${{inputs.data}}"] }"#, space: space)),
                       "s.json: trial.args[1]: ${{inputs.data}} is not supported: a trial's command may refer only to ${{search_space.NAME}}")
        XCTAssertEqual(message(spec(trial: #"{ "command": "python3 train.py ${{search_space.lr" }"#, space: space)),
                       "s.json: trial.command: has an unclosed ${{ (expected ${{search_space.NAME}})")
    }
}

final class TrialRankingTests: XCTestCase {
    func testRanksByTheFinalValueAndPicksTheBestCompletedTrial() {
        // Histories: the final value is the last; a peak earlier does not count.
        let entries = [TrialRanking.Entry(metric: 0.64, completed: true),   // peaked at 0.75, ended at 0.64
                       TrialRanking.Entry(metric: 0.70, completed: true),
                       TrialRanking.Entry(metric: 0.72, completed: false),  // early-terminated at 0.72
                       TrialRanking.Entry(metric: nil, completed: false)]   // failed
        XCTAssertEqual(TrialRanking.order(entries, goal: .maximize), [2, 1, 0, 3])
        XCTAssertEqual(TrialRanking.best(entries, goal: .maximize), 1, "only a completed trial has a model to register")
        XCTAssertEqual(TrialRanking.order(entries, goal: .minimize), [0, 1, 2, 3])
        XCTAssertEqual(TrialRanking.best(entries, goal: .minimize), 0)
        XCTAssertNil(TrialRanking.best([TrialRanking.Entry(metric: 0.5, completed: false)], goal: .maximize))
    }

    func testTheVerdictStopsAtTheEvaluationButNeverAtTheLast() {
        let policy = EarlyTerminationPolicy.bandit(slackFactor: nil, slackAmount: 0.1, evaluationInterval: 1, delayEvaluation: 2)
        let leader = [EarlyTerminationPolicy.Peer(history: [0.8, 0.9, 0.92], finished: true)]
        XCTAssertEqual(TrialVerdict.decide(policy, history: [0.3], peers: leader, goal: .maximize, step: 30, maxSteps: 300), .proceed, "before delay_evaluation")
        guard case .stop(let why) = TrialVerdict.decide(policy, history: [0.3, 0.3], peers: leader, goal: .maximize, step: 60, maxSteps: 300) else {
            return XCTFail("a trial outside the slack at its 2nd evaluation is stopped there")
        }
        XCTAssertTrue(why.hasPrefix("bandit (slack_amount 0.1): 0.3 is below 0.8"), why)
        XCTAssertEqual(TrialVerdict.decide(policy, history: [0.3, 0.3], peers: leader, goal: .maximize, step: 300, maxSteps: 300), .proceed,
                       "the final evaluation saves nothing")
        XCTAssertEqual(TrialVerdict.decide(nil, history: [0.3, 0.3], peers: leader, goal: .maximize, step: 60, maxSteps: 300), .proceed)
    }

    func testVerdictFilesRoundTrip() {
        XCTAssertEqual(TrialVerdict(parsing: TrialVerdict.proceed.encoded), .proceed)
        XCTAssertEqual(TrialVerdict(parsing: TrialVerdict.stop(reason: "bandit: 0.1 is below 0.5").encoded), .stop(reason: "bandit: 0.1 is below 0.5"))
        XCTAssertNil(TrialVerdict(parsing: ""))
        XCTAssertEqual(TrialVerdict.fileName(step: 60), "step-60")
    }
}
