import Foundation
import Synchronization
import TrainyardCore
import TrainyardPlatform

/// The parameter server process: serves `ParameterServer` over TCP, one thread per connection,
/// until the chief says the job is over (exit 0), a signal arrives, or the launcher disappears.
/// Started without the launcher, it does not exit when the chief ends the job: it serves on (every
/// request answered `shutting-down`) until SIGTERM or SIGINT, then exits 0.
public enum ParameterServerRole {
    public static func run(_ context: RoleContext) throws -> ExitCode {
        let log = context.log
        let settings = context.settings
        let aggregate = settings.sync ? (settings.replicasToAggregate ?? context.config.cluster.trainingTasks.count) : nil
        let state = Mutex(ParameterServer(task: context.task, token: context.token, optimizer: settings.optimizerConfig,
                                          replicasToAggregate: aggregate, members: context.members))
        // The start barrier: every training task of the cluster takes part.
        let trainers = Set(context.config.cluster.trainingTasks)
        state.withLock { $0.trainers = trainers }
        var initializedAt: Double?
        var firstInitializedAt: Double?
        let exitReason = Mutex<String?>(nil)
        let replyTimeout = settings.rpcTimeout
        // Synchronous pushes wait here for their step to be applied.
        let stepAdvanced = NSCondition()

        let counters = TimeCounters.process
        let server = FrameServer(listener: context.listener, localListener: context.localListener, shaper: context.shaper, limits: context.wireLimits, log: { log($0) }) { connection in
            var peer = ParameterServer.Peer()
            // A shard that applies a same-host trainer's push where it lies in the trainer's region
            // has it lent, and gives it back right after; otherwise the connection copies it out
            // on arrival, before the lock is taken.
            connection.lendsPushGradients = state.withLock { $0.appliesLentGradientsInPlace }
            while true {
                guard let frame = connection.receiveRequest(authenticatedLimit: { state.withLock { $0.payloadLimit } }) else { return }
                let arrived = MonotonicClock.now()
                var locked = arrived
                let directives = state.withLock { server in
                    locked = MonotonicClock.now()
                    return server.handle(frame, from: &peer)
                }
                connection.returnLentGradients()
                // Handling never waits (the lock is taken): its CPU is its wall time
                // (`TimeCounters.timeWithoutWaiting`), without two thread-CPU readings per request.
                let handled = MonotonicClock.now()
                counters.add(.lockWait, seconds: locked - arrived)
                if case .push = frame.message {
                    counters.add(.update, seconds: handled - locked, cpu: handled - locked)
                } else {
                    counters.add(.handle, seconds: handled - locked, cpu: handled - locked)
                }
                if let task = peer.task, !connection.isAuthenticated { connection.authenticate(as: task) }
                for directive in directives {
                    switch directive {
                    case .reply(let reply):
                        let wait = frame.deadlineMillis > 0 ? max(Double(frame.deadlineMillis) / 1000, 1) : replyTimeout
                        do { try connection.send(reply, until: .after(seconds: wait)) } catch { return }
                    case .close:
                        if case .reply(let last)? = directives.first, case .error(let e) = last.message, !connection.isAuthenticated {
                            connection.refuse("\(e.code): \(e.message)")
                        }
                        return
                    case .log(let line):
                        log(line)
                    case .exitCleanly(let reason):
                        exitReason.withLock { $0 = $0 ?? reason }
                    case .stepAdvanced:
                        stepAdvanced.lock()
                        stepAdvanced.broadcast()
                        stepAdvanced.unlock()
                    case .awaitStep(let after, let requestID, let returnValues):
                        // Answer a little before the client's deadline, so it hears why.
                        let budget = frame.deadlineMillis > 0 ? Double(frame.deadlineMillis) / 1000 * 0.9 : replyTimeout
                        let deadline = Deadline.after(seconds: budget)
                        stepAdvanced.lock()
                        while !deadline.hasPassed && state.withLock({ $0.globalStep <= after && $0.incarnation == frame.incarnation && !$0.shuttingDown }) {
                            _ = stepAdvanced.wait(until: Date(timeIntervalSinceNow: min(0.25, max(0.001, deadline.remaining))))
                        }
                        stepAdvanced.unlock()
                        let (answer, incarnation) = state.withLock { ($0.syncPushReply(after: after, incarnation: frame.incarnation, returnValues: returnValues), $0.incarnation) }
                        do { try connection.send(Frame(requestID: requestID, incarnation: incarnation, message: answer), until: .after(seconds: replyTimeout)) } catch { return }
                    }
                }
            }
        }
        // The fault file first: a scenario's step holds must be in force before the first push.
        FaultWatcher.fromEnvironment(shaper: context.shaper, onReset: { server.resetConnections() },
                                     onHolds: { holds in state.withLock { $0.faultHolds = Set(holds) } }).start(log: log)
        server.start(name: context.task.description)
        log("serving on \(context.listener.localAddress)" + (context.localName(for: context.task).map { " and the local socket @\($0)" } ?? "") + " (optimizer \(settings.optimizer.rawValue), learning rate \(settings.learningRate)"
            + (aggregate.map { ", synchronous: \($0) gradients per step" } ?? ", asynchronous") + ")")

        var lastReport = MonotonicClock.now()
        var lastInitialized = false
        var lastIncarnation: UInt32 = 0
        var metrics = ParameterServerMetrics(context)
        var jobEnded = false
        while true {
            if !jobEnded, let reason = exitReason.withLock({ $0 }) {
                let s = state.withLock { ($0.globalStep, $0.appliedPushes, $0.appliedWhereTheyLay) }
                if context.launched {
                    // Let the last replies go out, then stop.
                    MonotonicClock.sleep(seconds: 0.1)
                    server.stop()
                    log("shutting down at global step \(s.0) after \(s.1) updates: \(reason)")
                    metrics.profile(appliedPushes: s.1, inPlace: s.2, since: firstInitializedAt, accepted: server.accepted)
                    return .success
                }
                // Started without the launcher (by hand, or as a TFJob pod): a ps never exits on its
                // own; it answers every late request with shutting-down until it is stopped.
                jobEnded = true
                metrics.profile(appliedPushes: s.1, inPlace: s.2, since: firstInitializedAt, accepted: server.accepted)
                log("the chief ended the job at global step \(s.0) after \(s.1) updates (\(reason)); "
                    + "serving on until stopped, as a ps started without the launcher does (TFJob: cleanPodPolicy Running or All removes this pod)")
            }
            if let signal = Signals.take() {
                server.stop()
                if jobEnded {
                    log("stopping on \(signalName(signal)) after the job ended")
                    return .success
                }
                log("stopping on \(signalName(signal))")
                return signal == Signals.terminate ? TrainerMachine.preemptedExitCode : .interrupted
            }
            let now = MonotonicClock.now()
            let snapshot = state.withLock { ($0.initialized, $0.incarnation, $0.globalStep, $0.appliedPushes, $0.shardElements) }
            metrics.tick(now: now, globalStep: snapshot.2, appliedPushes: snapshot.3, initialized: snapshot.0)
            if snapshot.0 != lastInitialized || snapshot.1 != lastIncarnation {
                log("initialized by the chief: incarnation \(snapshot.1), global step \(snapshot.2), \(snapshot.4) values")
                lastInitialized = snapshot.0
                lastIncarnation = snapshot.1
                initializedAt = now
                firstInitializedAt = firstInitializedAt ?? now
            }
            if let since = initializedAt, now - since > settings.startupTimeout {
                initializedAt = nil
                let missing = state.withLock { $0.openStartBarrier() }
                if !missing.isEmpty {
                    log("warning: \(missing.sorted().map(\.description).joined(separator: ", ")) never pushed within the \(JSONValue.format(settings.startupTimeout)) s startup timeout: training starts without them")
                }
            }
            if !jobEnded && now - lastReport >= 5 {
                log("global step \(snapshot.2), \(snapshot.3) updates applied, \(server.openConnections) connections")
                lastReport = now
            }
            MonotonicClock.sleep(seconds: 0.02)
        }
    }
}
