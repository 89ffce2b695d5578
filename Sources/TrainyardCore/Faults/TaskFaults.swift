/// The faults in force on one task, as the launcher writes them to the task's fault file
/// (`TRAINYARD_FAULT_FILE`, `<job-dir>/faults/<task>.json`) and the task applies them.
///
/// ```json
/// {"slow_factor": 5, "reset_generation": 1,
///  "links": [{"peers": ["ps-0"], "delay_ms": 50, "bytes_per_second": 1000000, "partitioned": false}]}
/// ```
public struct TaskFaults: Sendable, Equatable {
    /// One rule for this task's links to `peers` (all peers when nil).
    public struct LinkFault: Sendable, Equatable {
        public var peers: [TaskID]?
        /// Added to every message sent on these links, in seconds.
        public var delay: Double
        /// A cap on what this task sends on these links, bytes per second.
        public var bandwidth: Double?
        /// Nothing gets through: sends and receives fail.
        public var partitioned: Bool

        public init(peers: [TaskID]? = nil, delay: Double = 0, bandwidth: Double? = nil, partitioned: Bool = false) {
            self.peers = peers
            self.delay = delay
            self.bandwidth = bandwidth
            self.partitioned = partitioned
        }
    }

    /// Compute slowdown: each training step takes this many times its compute time.
    public var slowFactor: Double
    public var links: [LinkFault]
    /// Raised by one for each connection-reset fault: the task drops every connection it has.
    public var resetGeneration: Int

    /// Parameter servers: global steps at which no push is applied until the scenario's fault
    /// for that step has fired (the runner then drops the step from the list), so a fault
    /// triggered at a step fires at exactly that step however fast the cluster runs.
    public var holdAtSteps: [Int64]

    public init(slowFactor: Double = 1, links: [LinkFault] = [], resetGeneration: Int = 0, holdAtSteps: [Int64] = []) {
        self.slowFactor = slowFactor
        self.links = links
        self.resetGeneration = resetGeneration
        self.holdAtSteps = holdAtSteps
    }

    public var json: JSONValue {
        .object([
            ("slow_factor", JSONValue(slowFactor)),
            ("reset_generation", JSONValue(resetGeneration)),
            ("hold_at_steps", .array(holdAtSteps.map { JSONValue(Int($0)) })),
            ("links", .array(links.map { l in
                .object([
                    ("peers", l.peers.map { JSONValue($0.map(\.description)) } ?? .null),
                    ("delay_ms", JSONValue(l.delay * 1000)),
                    ("bytes_per_second", l.bandwidth.map { JSONValue($0) } ?? .null),
                    ("partitioned", .bool(l.partitioned)),
                ])
            })),
        ])
    }

    public init(parsing text: String, source: String) throws(FieldError) {
        let root = try JSONField.parseJSON(text, source: source)
        slowFactor = try root.optional("slow_factor")?.double() ?? 1
        resetGeneration = try root.optional("reset_generation")?.int() ?? 0
        var holds: [Int64] = []
        for h in try root.optional("hold_at_steps")?.array() ?? [] { holds.append(Int64(try h.int(in: 0...Int.max))) }
        holdAtSteps = holds
        var links: [LinkFault] = []
        for l in try root.optional("links")?.array() ?? [] {
            var peers: [TaskID]?
            if let list = try l.optional("peers") {
                peers = []
                for p in try list.array() {
                    do { peers!.append(try TaskID(parsing: try p.string())) } catch { throw p.fail(error.message) }
                }
            }
            links.append(LinkFault(peers: peers, delay: (try l.optional("delay_ms")?.double() ?? 0) / 1000,
                                   bandwidth: try l.optional("bytes_per_second")?.double(),
                                   partitioned: try l.optional("partitioned")?.bool() ?? false))
        }
        self.links = links
    }
}
