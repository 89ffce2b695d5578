import Synchronization
import TrainyardCore
import TrainyardPlatform

/// Follows this task's fault file (`TRAINYARD_FAULT_FILE`) and applies what it says: network
/// rules to the process's `NetworkShaper` (the one it is given), the compute slowdown, and connection resets.
public final class FaultWatcher: Sendable {
    private struct State {
        var faults = TaskFaults()
        var text = ""
    }

    private let path: String?
    private let baseBandwidth: Double?
    /// The process's emulated network, which the link rules are applied to.
    private let shaper: NetworkShaper
    private let state = Mutex(State())
    private let onReset: @Sendable () -> Void
    private let onHolds: @Sendable ([Int64]) -> Void

    /// Starts following `path` (nil: no faults ever). `onReset` runs on the watcher's thread
    /// whenever a connection reset is ordered.
    public init(path: String?, baseBandwidth: Double?, shaper: NetworkShaper, onReset: @escaping @Sendable () -> Void = {},
                onHolds: @escaping @Sendable ([Int64]) -> Void = { _ in }) {
        self.onHolds = onHolds
        self.shaper = shaper
        self.path = path
        self.baseBandwidth = baseBandwidth
        self.onReset = onReset
    }

    public static func fromEnvironment(shaper: NetworkShaper, onReset: @escaping @Sendable () -> Void = {},
                                       onHolds: @escaping @Sendable ([Int64]) -> Void = { _ in }) -> FaultWatcher {
        let bandwidth = Posix.environment(RoleEnvironment.bandwidth).flatMap(Double.init)
        return FaultWatcher(path: Posix.environment(RoleEnvironment.faultFile), baseBandwidth: bandwidth, shaper: shaper, onReset: onReset, onHolds: onHolds)
    }

    public func start(log: RoleLog) {
        guard let path else { return }
        // Read once before returning, so what the file holds at start (a scenario's step holds)
        // is in force before the task serves or trains.
        poll(path: path, log: log)
        startThread(name: "fault-watcher") { [self] in
            while true {
                poll(path: path, log: log)
                MonotonicClock.sleep(seconds: 0.05)
            }
        }
    }

    /// The current compute slowdown factor (1 = none).
    public var slowFactor: Double { state.withLock { $0.faults.slowFactor } }

    /// Counts connection resets ordered so far; the training loop resets its clients when it changes.
    public var resetGeneration: Int { state.withLock { $0.faults.resetGeneration } }

    private func poll(path: String, log: RoleLog) {
        guard let text = try? Files.readText(path) else { return }
        let changed = state.withLock { s -> Bool in
            if s.text == text { return false }
            s.text = text
            return true
        }
        guard changed else { return }
        let faults: TaskFaults
        do { faults = try TaskFaults(parsing: text, source: path) } catch {
            log("warning: ignoring the fault file: \(error)")
            return
        }
        let previous = state.withLock { s -> TaskFaults in
            let old = s.faults
            s.faults = faults
            return old
        }
        let rules = faults.links.map { l in
            NetworkShaper.LinkRule(peers: l.peers.map(Set.init), delay: l.delay, bandwidth: l.bandwidth, partitioned: l.partitioned)
        }
        shaper.update(NetworkShaper.Conditions(bandwidth: baseBandwidth, rules: rules))
        if faults != previous {
            log("faults now: slowdown ×\(JSONValue.format(faults.slowFactor)), \(faults.links.count) link rule\(faults.links.count == 1 ? "" : "s")"
                + (faults.resetGeneration != previous.resetGeneration ? ", connections reset" : ""))
        }
        if faults.resetGeneration != previous.resetGeneration { onReset() }
        if faults.holdAtSteps != previous.holdAtSteps { onHolds(faults.holdAtSteps) }
    }
}
