import Synchronization
import TrainyardCore
import TrainyardPlatform

/// The parameter server process: serves `ParameterServer` over TCP, one thread per connection,
/// until the chief says the job is over (exit 0), a signal arrives, or the launcher disappears.
public enum ParameterServerRole {
    public static func run(_ context: RoleContext) throws -> ExitCode {
        let log = context.log
        let state = Mutex(ParameterServer(task: context.task, token: context.token, optimizer: context.settings.optimizerConfig))
        let exitReason = Mutex<String?>(nil)
        let replyTimeout = context.settings.rpcTimeout

        let server = FrameServer(listener: context.listener) { connection in
            var peer = ParameterServer.Peer()
            while true {
                let frame: Frame
                do {
                    frame = try connection.receive(until: .never)
                } catch let error as FrameError {
                    try? connection.send(Frame(message: .error(WireError(.badRequest, error.description))), until: .after(seconds: 1))
                    return
                } catch {
                    return  // the peer went away, or the server is stopping
                }
                let directives = state.withLock { $0.handle(frame, from: &peer) }
                connection.peer = peer.task
                for directive in directives {
                    switch directive {
                    case .reply(let reply):
                        let wait = frame.deadlineMillis > 0 ? max(Double(frame.deadlineMillis) / 1000, 1) : replyTimeout
                        do { try connection.send(reply, until: .after(seconds: wait)) } catch { return }
                    case .close:
                        return
                    case .exitCleanly(let reason):
                        exitReason.withLock { $0 = $0 ?? reason }
                    }
                }
            }
        }
        server.start(name: context.task.description)
        log("serving on \(context.listener.localAddress) (optimizer \(context.settings.optimizer.rawValue), learning rate \(context.settings.learningRate))")

        var lastReport = MonotonicClock.now()
        var lastInitialized = false
        var lastIncarnation: UInt32 = 0
        while true {
            if let reason = exitReason.withLock({ $0 }) {
                // Let the last replies go out, then stop.
                MonotonicClock.sleep(seconds: 0.1)
                server.stop()
                let s = state.withLock { ($0.globalStep, $0.appliedPushes) }
                log("shutting down at global step \(s.0) after \(s.1) updates: \(reason)")
                return .success
            }
            if let signal = Signals.take() {
                server.stop()
                log("stopping on \(signalName(signal))")
                return signal == Signals.terminate ? TrainerMachine.preemptedExitCode : .interrupted
            }
            let now = MonotonicClock.now()
            let snapshot = state.withLock { ($0.initialized, $0.incarnation, $0.globalStep, $0.appliedPushes, $0.shardElements) }
            if snapshot.0 != lastInitialized || snapshot.1 != lastIncarnation {
                log("initialized by the chief: incarnation \(snapshot.1), global step \(snapshot.2), \(snapshot.4) values")
                lastInitialized = snapshot.0
                lastIncarnation = snapshot.1
            }
            if now - lastReport >= 5 {
                log("global step \(snapshot.2), \(snapshot.3) updates applied, \(server.openConnections) connections")
                lastReport = now
            }
            MonotonicClock.sleep(seconds: 0.02)
        }
    }
}
