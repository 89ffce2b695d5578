import Foundation
import TrainyardCore
import TrainyardPlatform

/// `trainyard bench transport`: pulls and pushes of one shard between two real processes over the
/// real wire — this process as the chief, a real `trainyard-ps` (hello, HMAC challenge-response,
/// frames, limits and deadlines as in a job) — against a plain socket copy loop between this
/// process and a `trainyard _bench-echo` child, the same bytes each way, in the same run (and
/// iperf3's bulk stream when `iperf3` is on PATH).
///
/// A wire pull is a pull request and its reply of N bytes of values; a wire push is N bytes of
/// gradients and the ps's short reply (the ps checks them and applies SGD in between, as in a
/// job). The socket-copy pull is a 16-byte request and N bytes back; its push is N bytes and 8
/// back. Wire and copy repeats alternate, so load from other processes hits both alike.
///
/// Both are measured over TCP loopback and over the same-host fast path (Unix-domain sockets in
/// the abstract namespace, as the launcher sets them up), each wire against the copy loop over
/// the same kind of socket.
public enum TransportBench {
    public struct Configuration: Sendable {
        public var sizesMB: [Int] = [1, 4, 16]
        public var repeats = 5
        public var minTime = 0.2
        public var iperf = true
        /// `tcp` and/or `local` (Unix-domain sockets, the launcher's same-host fast path).
        public var transports = ["tcp", "local"]
        public init() {}
    }

    public struct Row: Sendable {
        public var transport = "tcp"
        public var megabytes: Int
        public var direction: String
        /// MB/s (10⁶ bytes of payload per second), best of the repeats, and the median.
        public var wire: Double, wireMedian: Double
        public var copy: Double, copyMedian: Double
        public var ratio: Double { wire / copy }
        public var ratioMedian: Double { wireMedian / copyMedian }
        /// Push only: the ps's mean time per update under its lock (NaN check and SGD, from its own
        /// counters), and the wire's MB/s with it taken out: the transport alone.
        public var updateSeconds: Double?
        public var wireNetOfUpdate: Double? {
            guard let u = updateSeconds, wire > 0 else { return nil }
            let t = Double(megabytes) * 1e6 / (wire * 1e6) - u
            return t > 0 ? Double(megabytes) / t : nil
        }
    }

    public struct Result: Sendable {
        public var configuration: Configuration
        public var rows: [Row]
        /// iperf3's loopback bulk rate in MB/s, or why there is none.
        public var iperf: Double?
        public var iperfNote: String
        /// Each transport and size's ps's own profile record (where its time went over both directions).
        public var psProfiles: [(String, Int, JSONValue)] = []
    }

    /// A child process of the benchmark, always reaped.
    final class Child {
        let pid: Int32
        init(_ request: SpawnRequest) throws {
            do { pid = try ProcessSpawner.spawn(request) } catch {
                throw RuntimeFailure("cannot start \(request.executable): \(error)", exitCode: .systemError)
            }
        }
        func stop(grace: Double = 2) {
            if ProcessSpawner.wait(pid, timeout: grace) != nil { return }
            ProcessSpawner.signalGroup(pid, SIGTERM)
            if ProcessSpawner.wait(pid, timeout: 2) != nil { return }
            ProcessSpawner.signalGroup(pid, SIGKILL)
            _ = ProcessSpawner.wait(pid, timeout: 5)
        }
    }

    static func loopback() throws -> Socket {
        do { return try Socket.listen(on: HostPort(host: "127.0.0.1", port: 0)) } catch {
            throw RuntimeFailure("cannot listen on 127.0.0.1: \(error)", exitCode: .systemError)
        }
    }

    /// A Unix-domain listener on a fresh abstract name (the launcher's same-host fast path).
    static func localListener(_ name: String) throws -> Socket {
        do { return try Socket.listenLocal(name: name) } catch {
            throw RuntimeFailure("cannot listen on the local socket @\(name): \(error)", exitCode: .systemError)
        }
    }

    static func freshLocalPrefix() -> String { "trainyard-bench-\(Posix.getpid())-\(UInt32.random(in: 0...UInt32.max))" }

    /// A real `trainyard-ps` on a loopback port of its own (and, with `local`, a Unix-domain socket
    /// as the launcher gives it), and this process's client to it as the chief.
    static func startParameterServer(jobDirectory: String, local: Bool) throws -> (Child, PeerClient) {
        let token = Launcher.makeToken()
        let psListener = try loopback()
        let prefix = freshLocalPrefix()
        let psLocal = local ? try localListener(RoleEnvironment.localSocketName(prefix: prefix, task: .ps(0))) : nil
        defer { psLocal?.close() }
        let chiefPlaceholder = try loopback()  // the chief's TF_CONFIG address (nothing connects to it)
        defer { psListener.close(); chiefPlaceholder.close() }
        let cluster = ClusterSpec([.chief: [chiefPlaceholder.localAddress], .ps: [psListener.localAddress]])
        var environment = ProcessInfo.processInfo.environment
        environment[RoleEnvironment.tfConfig] = TFConfig(cluster: cluster, task: .init(type: .ps, index: 0)).serialized()
        environment[RoleEnvironment.token] = token
        environment[RoleEnvironment.listenFD] = "3"
        environment[RoleEnvironment.parentPID] = String(Posix.getpid())
        environment[RoleEnvironment.faultFile] = nil
        environment[RoleEnvironment.bandwidth] = nil
        environment[RoleEnvironment.localListenFD] = local ? "4" : nil
        environment[RoleEnvironment.localSockets] = local ? prefix : nil
        guard let psPath = Executables.role(.ps), Posix.isExecutable(psPath) else {
            throw RuntimeFailure("trainyard-ps is not beside trainyard (\(Executables.binDirectory)): build every product (swift build -c release)", exitCode: .systemError)
        }
        let ps = try Child(SpawnRequest(executable: psPath, arguments: ["--optimizer", "sgd", "--learning-rate", "0.000001", "--job-dir", jobDirectory],
                                        environment: environment, outputPath: "/dev/null",
                                        inherited: [psListener.fd] + (psLocal.map { [$0.fd] } ?? [])))
        return (ps, PeerClient(server: .ps(0), address: psListener.localAddress, hello: Hello(token: token, task: .chief(0)),
                               localName: local ? RoleEnvironment.localSocketName(prefix: prefix, task: .ps(0)) : nil))
    }

    public static func run(_ c: Configuration, note: (String) -> Void = { _ in }) throws -> Result {
        Posix.keepFreedMemory()  // as a role process does: this process plays the chief
        var rows: [Row] = []
        var psProfiles: [(String, Int, JSONValue)] = []
        for transport in c.transports {
            let local = transport == "local"
            try run(c, local: local, rows: &rows, psProfiles: &psProfiles, note: note)
        }
        try Signals.checkInterrupted("bench transport")
        var iperf: Double?
        var iperfNote = "skipped (--no-iperf)"
        if c.iperf {
            (iperf, iperfNote) = runIperf()
            try Signals.checkInterrupted("bench transport")
        }
        return Result(configuration: c, rows: rows, iperf: iperf, iperfNote: iperfNote, psProfiles: psProfiles)
    }

    /// Every size over one kind of socket: TCP loopback, or (`local`) Unix-domain sockets.
    static func run(_ c: Configuration, local: Bool, rows: inout [Row], psProfiles: inout [(String, Int, JSONValue)], note: (String) -> Void) throws {
        let transport = local ? "local" : "tcp"
        let echoName = freshLocalPrefix() + "/echo"
        let echoListener = local ? try localListener(echoName) : try loopback()
        var echoEnvironment = ProcessInfo.processInfo.environment
        echoEnvironment[RoleEnvironment.parentPID] = String(Posix.getpid())
        let echo = try Child(SpawnRequest(executable: Executables.current, arguments: ["_bench-echo"], environment: echoEnvironment,
                                          outputPath: "/dev/null", inherited: [echoListener.fd]))
        defer { echo.stop() }
        let echoAddress = echoListener.localAddress
        let copy: Socket
        do {
            copy = local ? try Socket.connectLocal(name: echoName, deadline: .after(seconds: 10))
                         : try Socket.connect(to: echoAddress, deadline: .after(seconds: 10))
        } catch {
            echoListener.close()
            throw RuntimeFailure("cannot reach the copy-loop child: \(error)", exitCode: .systemError)
        }
        echoListener.close()
        defer { copy.close() }

        for mb in c.sizesMB {
            let bytes = mb * 1_000_000
            let floats = bytes / 4
            // A ps per size (a shard's size is fixed once initialized), with a job folder of its
            // own for its profile record.
            let psDirectory = NSTemporaryDirectory() + "trainyard-bench-transport-\(UInt32.random(in: 0...UInt32.max))"
            defer { Files.remove(psDirectory) }
            // Made here, not left to the ps: its metrics go to a folder that must exist.
            try Files.createDirectory(psDirectory)
            let (ps, client) = try startParameterServer(jobDirectory: psDirectory, local: local)
            var running = true
            func stopParameterServer() {
                guard running else { return }
                running = false
                _ = try? client.call(.shutdown(reason: "benchmark over"), timeout: 5)
                client.disconnect()
                ps.stop(grace: 3)
            }
            defer { stopParameterServer() }
            client.incarnation = 1
            do {
                _ = try client.call(.initialize(Initialize(incarnation: 1, globalStep: 0, maxSteps: .max,
                                                           values: [Float](repeating: 0.5, count: floats))), timeout: 30)
            } catch {
                throw RuntimeFailure("the ps refused initialize: \(error)", exitCode: .systemError)
            }
            guard client.isLocal == local else {
                throw RuntimeFailure("the \(transport) run reached the ps over \(client.isLocal ? "a local socket" : "TCP")", exitCode: .systemError)
            }
            let gradients = [Float](repeating: 0.001, count: floats)
            let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: bytes, alignment: 64)
            defer { buffer.deallocate() }
            buffer.initializeMemory(as: UInt8.self, repeating: 1)
            var failure: Error?

            func wirePull() {
                do {
                    guard case .pullReply(let p) = try client.call(.pull(Pull()), timeout: 30), p.values.count == floats else {
                        throw RuntimeFailure("unexpected reply to pull")
                    }
                } catch { failure = failure ?? error }
            }
            func wirePush() {
                do {
                    guard case .pushReply = try client.call(.push(Push(baseStep: 0, gradients: gradients)), timeout: 30) else {
                        throw RuntimeFailure("unexpected reply to push")
                    }
                } catch { failure = failure ?? error }
            }
            func copyRound(send: Int, receive: Int) {
                do {
                    var header = [UInt64(send), UInt64(receive)]
                    try header.withUnsafeMutableBytes { try copy.write(UnsafeRawBufferPointer($0), until: .after(seconds: 30)) }
                    if send > 0 { try copy.write(UnsafeRawBufferPointer(rebasing: buffer[0..<send]), until: .after(seconds: 30)) }
                    try copy.read(into: UnsafeMutableRawBufferPointer(rebasing: buffer[0..<receive]), until: .after(seconds: 30))
                } catch { failure = failure ?? error }
            }
            for (direction, wire, plain) in [("pull", wirePull, { copyRound(send: 0, receive: bytes) }),
                                             ("push", wirePush, { copyRound(send: bytes, receive: 8) })] as [(String, () -> Void, () -> Void)] {
                note("\(transport) \(mb) MB \(direction)… ")
                _ = KernelBench.timePerCall(minTime: c.minTime / 2, wire)
                _ = KernelBench.timePerCall(minTime: c.minTime / 2, plain)
                var wireTimes: [Double] = [], copyTimes: [Double] = []
                for _ in 0..<c.repeats {
                    // Ctrl-C: the ps and the copy child are stopped on the way out (the defers above).
                    try Signals.checkInterrupted("bench transport")
                    wireTimes.append(KernelBench.timePerCall(minTime: c.minTime, wire))
                    copyTimes.append(KernelBench.timePerCall(minTime: c.minTime, plain))
                    if let failure { throw RuntimeFailure("\(mb) MB \(direction): \(failure)", exitCode: .systemError) }
                }
                let mbs = { (t: Double) in Double(bytes) / t / 1e6 }
                rows.append(Row(transport: transport, megabytes: mb, direction: direction,
                                wire: mbs(wireTimes.min()!), wireMedian: mbs(KernelBench.median(wireTimes)),
                                copy: mbs(copyTimes.min()!), copyMedian: mbs(KernelBench.median(copyTimes))))
            }
            stopParameterServer()
            let profile = MetricsLog(jobDirectory: psDirectory).records().last { $0["kind"] == "profile" }
            psProfiles.append((transport, mb, profile ?? .null))
            if let p = profile, let update = p["update_seconds"]?.doubleValue, let n = p["updates"]?.doubleValue, n > 0,
               let i = rows.lastIndex(where: { $0.transport == transport && $0.megabytes == mb && $0.direction == "push" }) {
                rows[i].updateSeconds = update / n
            }
        }
        var header = [UInt64(0), UInt64(0)]
        try? header.withUnsafeMutableBytes { try copy.write(UnsafeRawBufferPointer($0), until: .after(seconds: 2)) }
    }

    /// iperf3 over loopback (a one-shot server and a 2-second client), when it is on PATH.
    static func runIperf() -> (Double?, String) {
        guard let path = (Posix.environment("PATH") ?? "").split(separator: ":").map({ $0 + "/iperf3" }).first(where: { Posix.isExecutable($0) }) else {
            return (nil, "iperf3 is not on PATH: skipped")
        }
        guard let probe = try? loopback() else { return (nil, "no loopback port for iperf3") }
        let port = probe.localAddress.port
        probe.close()
        guard let server = try? Child(SpawnRequest(executable: path, arguments: ["-s", "-1", "-p", String(port)], environment: ProcessInfo.processInfo.environment,
                                                   outputPath: "/dev/null")) else { return (nil, "cannot start iperf3") }
        defer { server.stop(grace: 3) }
        MonotonicClock.sleep(seconds: 0.3)
        let process = Process()
        process.executableURL = URL(fileURLWithPath: path)
        process.arguments = ["-c", "127.0.0.1", "-p", String(port), "-t", "2", "-J"]
        let output = Pipe()
        process.standardOutput = output
        process.standardError = FileHandle(forWritingAtPath: "/dev/null")
        do { try process.run() } catch { return (nil, "cannot run iperf3: \(error.localizedDescription)") }
        // Ctrl-C leaves it empty; the caller stops after iperf3 has ended.
        let data = (try? Signals.readAllUnlessInterrupted(output.fileHandleForReading.fileDescriptor, "iperf3's output")) ?? []
        process.waitUntilExit()
        guard let doc = try? JSONParser.parse(String(decoding: data, as: UTF8.self)),
              let bits = doc["end"]?["sum_received"]?["bits_per_second"]?.doubleValue else {
            return (nil, "iperf3 gave no result (exit \(process.terminationStatus))")
        }
        return (bits / 8 / 1e6, "iperf3 at \(path), one TCP stream over loopback for 2 s")
    }

    /// `trainyard _bench-echo`: the copy loop's far end. Takes the listening socket as descriptor 3,
    /// serves one connection: each round reads a 16-byte header (bytes to read, bytes to write),
    /// reads that many, writes that many; a header of two zeros or the peer's close ends it.
    public static func echoServer(_ argv: [String]) throws -> ExitCode {
        if let parent = Posix.environment(RoleEnvironment.parentPID).flatMap(Int32.init) { ParentWatchdog.start(expectedParent: parent) }
        let listener: Socket
        do { listener = try Socket.adopt(fd: 3) } catch { throw RuntimeFailure("_bench-echo needs a listening socket as descriptor 3: \(error)", exitCode: .systemError) }
        guard let connection = try? listener.accept(until: .after(seconds: 30)) else { return .failure }
        var buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: 1 << 20, alignment: 64)
        defer { buffer.deallocate() }
        buffer.initializeMemory(as: UInt8.self, repeating: 2)
        var header = [UInt64](repeating: 0, count: 2)
        while true {
            do {
                try header.withUnsafeMutableBytes { try connection.read(into: $0, until: .never) }
                let (receive, send) = (Int(clamping: header[0]), Int(clamping: header[1]))
                if receive == 0 && send == 0 { return .success }
                let needed = max(receive, send)
                if needed > buffer.count {
                    buffer.deallocate()
                    buffer = .allocate(byteCount: needed, alignment: 64)
                    buffer.initializeMemory(as: UInt8.self, repeating: 2)
                }
                if receive > 0 { try connection.read(into: UnsafeMutableRawBufferPointer(rebasing: buffer[0..<receive]), until: .never) }
                if send > 0 { try connection.write(UnsafeRawBufferPointer(rebasing: buffer[0..<send]), until: .never) }
            } catch {
                return .success
            }
        }
    }

    // MARK: Report

    public static func json(_ r: Result) -> JSONValue {
        func round(_ x: Double) -> JSONValue { .number((x * 1000).rounded() / 1000) }
        return .object([
            ("repeats", .number(Double(r.configuration.repeats))), ("min_time_seconds", .number(r.configuration.minTime)),
            ("rows", .array(r.rows.map { row in .object([
                ("transport", .string(row.transport)), ("megabytes", .number(Double(row.megabytes))), ("direction", .string(row.direction)),
                ("wire_mb_per_sec", .number(row.wire.rounded())), ("wire_mb_per_sec_median", .number(row.wireMedian.rounded())),
                ("socket_copy_mb_per_sec", .number(row.copy.rounded())), ("socket_copy_mb_per_sec_median", .number(row.copyMedian.rounded())),
                ("ratio", round(row.ratio)), ("ratio_median", round(row.ratioMedian)),
                ("ps_update_seconds_per_push", row.updateSeconds.map { .number(($0 * 1e6).rounded() / 1e6) } ?? .null),
                ("wire_net_of_update_mb_per_sec", row.wireNetOfUpdate.map { .number($0.rounded()) } ?? .null),
                ("ratio_net_of_update", row.wireNetOfUpdate.map { round($0 / row.copy) } ?? .null),
            ]) })),
            ("iperf3_mb_per_sec", r.iperf.map { .number($0.rounded()) } ?? .null),
            ("iperf3", .string(r.iperfNote)),
            ("ps_profiles", .array(r.psProfiles.map { t, mb, p in .object([("transport", .string(t)), ("megabytes", .number(Double(mb))), ("profile", p)]) })),
        ])
    }

    public static func table(_ r: Result) -> String {
        var lines = ["trainyard transport benchmark: one shard between this process (chief) and a real trainyard-ps, against a plain socket copy loop between two processes over the same kind of socket (tcp: loopback; local: Unix-domain, the launcher's same-host fast path), MB/s best (median) of \(r.configuration.repeats) repeats",
                     "",
                     "  socket  shard   op      wire                  socket copy           wire/copy"]
        for row in r.rows {
            func cell(_ a: Double, _ b: Double) -> String { String(format: "%.0f (%.0f)", a, b).padding(toLength: 22, withPad: " ", startingAt: 0) }
            lines.append("  " + row.transport.padding(toLength: 6, withPad: " ", startingAt: 0) + String(format: "  %3d MB  %@   ", row.megabytes, row.direction) + cell(row.wire, row.wireMedian) + cell(row.copy, row.copyMedian)
                         + String(format: "%.2f (%.2f)", row.ratio, row.ratioMedian)
                         + (row.wireNetOfUpdate.map { String(format: "   without the ps's update (%.2f ms): %.0f MB/s, %.2f", row.updateSeconds! * 1000, $0, $0 / row.copy) } ?? ""))
        }
        lines.append("")
        lines.append("each ps's CPU (seconds, its own counters, both directions): update = pushes under the lock, wire = encode + decode + send + receive + wait")
        for (t, mb, p) in r.psProfiles {
            func cpu(_ name: String) -> Double { p[name + "_cpu_seconds"]?.doubleValue ?? 0 }
            let wire = ["encode", "decode", "send", "receive", "wait_header"].reduce(0) { $0 + cpu($1) }
            lines.append("  " + t.padding(toLength: 6, withPad: " ", startingAt: 0) + String(format: "  %3d MB  cpu %.2f  update %.2f (%d updates)  wire %.2f  other requests %.2f", mb,
                                p["cpu_seconds"]?.doubleValue ?? 0, cpu("update"), p["updates"]?.intValue ?? 0, wire, cpu("handle")))
        }
        lines.append("")
        lines.append("iperf3: " + (r.iperf.map { String(format: "%.0f MB/s (%@)", $0, r.iperfNote) } ?? r.iperfNote))
        return lines.joined(separator: "\n")
    }
}
