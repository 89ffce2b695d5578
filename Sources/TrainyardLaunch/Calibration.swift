import Foundation
import TrainyardCore
import TrainyardKernel
import TrainyardPlatform

/// Measures this machine for the cost model — training compute over several model sizes, request
/// latency and CPU per request against a real ps process, bytes per second through a frame
/// connection, and the ps update rate — and keeps the profile in `$TRAINYARD_HOME`.
public enum Calibration {
    #if DEBUG
    public static let build = "debug"
    #else
    public static let build = "release"
    #endif

    public static func profilePath() -> String { Home.path + "/calibration-\(build).json" }

    public static func save(_ p: CalibrationProfile) throws {
        try Files.createDirectory(Home.path)
        try Files.writeAtomically(p.json.prettySerialized() + "\n", to: profilePath())
    }

    /// The saved profile for this build, measuring one first when there is none.
    public static func loadOrMeasure(note: (String) -> Void = { _ in }) throws -> CalibrationProfile {
        let path = profilePath()
        if let text = try? Files.readText(path) {
            let p = try CalibrationProfile(parsing: text, source: path)
            if p.kernel == KernelBackendName.current && p.compute != nil { return p }
            note(p.compute == nil ? "the saved calibration predates the current compute model: measuring it again (trainyard calibrate)…\n"
                                  : "the saved calibration is for the \(p.kernel) kernel, this process runs \(KernelBackendName.current): measuring it again (trainyard calibrate)…\n")
        } else {
            note("no calibration for this machine and build yet: measuring it (trainyard calibrate)…\n")
        }
        let p = try measure(quick: false, note: note)
        try save(p)
        return p
    }

    public static func cpuSeconds() -> Double { Posix.processCPUSeconds() }

    /// The share of a core one busy thread gets now: CPU time over wall time while spinning for
    /// `seconds`. 1 on a machine with a free core; C/(1+L) with L other busy processes on C cores.
    public static func cpuShare(seconds: Double = 0.25) -> Double {
        let cpu0 = cpuSeconds(), wall0 = MonotonicClock.now()
        var x = 1.0
        while MonotonicClock.now() - wall0 < seconds {
            for _ in 0..<20_000 { x = x * 1.000001 + 1e-9 }
        }
        let share = (cpuSeconds() - cpu0) / max(1e-9, MonotonicClock.now() - wall0)
        return x.isNaN ? 1 : min(1, max(0.01, share))
    }

    /// Other programs' processes that want a CPU now: the kernel's count of runnable processes
    /// (`procs_running` in /proc/stat) read every 5 ms for `seconds`, averaged, less this one
    /// (running as it reads). Unlike a spinning thread's share of a core, it sees fewer busy
    /// processes than cores, and it does not read low when the scheduler favours a thread just
    /// started (two spinning processes read 1.4–3.1 that way). Falls back on the share where
    /// /proc/stat has no such line.
    public static func measureBackgroundLoad(cores: Int, seconds: Double = 0.5) -> Double {
        var total = 0.0, n = 0
        let end = MonotonicClock.now() + seconds
        repeat {
            guard let text = try? Files.readText("/proc/stat"), let running = runnableProcesses(procStat: text) else {
                return backgroundLoad(share: cpuShare(), cores: cores)
            }
            total += Double(running)
            n += 1
            MonotonicClock.sleep(seconds: 0.005)
        } while MonotonicClock.now() < end
        return max(0, total / Double(n) - 1)
    }

    /// The `procs_running` count of a /proc/stat text; nil when it has none.
    public static func runnableProcesses(procStat: String) -> Int? {
        for line in procStat.split(separator: "\n") where line.hasPrefix("procs_running ") {
            return line.split(separator: " ").last.flatMap { Int($0) }.flatMap { $0 >= 0 ? $0 : nil }
        }
        return nil
    }

    /// Other busy processes implied by a one-thread share of `share` on `cores` cores (0 when a
    /// core was free: fewer than `cores` others cannot be seen this way).
    public static func backgroundLoad(share: Double, cores: Int) -> Double {
        share >= 0.97 ? 0 : max(0, Double(cores) / share - 1)
    }

    /// Runs `body` repeatedly for about `seconds`; returns CPU seconds per call (best of three
    /// rounds). CPU time, not wall time: what other programs take of the cores does not count,
    /// so the profile is the same on a busy machine (the model adds the load where it predicts).
    public static func time(_ seconds: Double, _ body: () -> Void) -> Double {
        body()
        var best = Double.infinity
        for _ in 0..<3 {
            var n = 0
            let start = MonotonicClock.now()
            let cpu0 = cpuSeconds()
            while MonotonicClock.now() - start < seconds / 3 || n < 2 { body(); n += 1 }
            let cpu = cpuSeconds() - cpu0
            // getrusage counts in microseconds at least: fall back on wall time for a round too short to see.
            best = min(best, cpu > 1e-3 ? cpu / Double(n) : (MonotonicClock.now() - start) / Double(n))
        }
        return best
    }

    /// CPU seconds per global step of one task from a run's metrics records (time, step) and its
    /// resource samples (time, cpu_seconds): the growth of its CPU between the samples inside the
    /// steady window (from 15% of the steps on) over the steps between them.
    public static func cpuPerStep(records: [JSONValue], samples: [JSONValue], task: String, maxSteps: Int) -> Double? {
        let points = records.filter { $0["kind"] == "train" }.compactMap { r -> (Double, Double)? in
            guard let t = r["time"]?.doubleValue, let s = r["step"]?.doubleValue else { return nil }
            return (t, s)
        }.sorted { $0.0 < $1.0 }
        guard let first = points.first(where: { $0.1 >= Double(maxSteps * 15 / 100) }), let last = points.last, last.0 > first.0 else { return nil }
        func step(at t: Double) -> Double? {
            guard let k = points.firstIndex(where: { $0.0 >= t }), k > 0 else { return nil }
            let (t0, s0) = points[k - 1], (t1, s1) = points[k]
            return t1 > t0 ? s0 + (s1 - s0) * (t - t0) / (t1 - t0) : s1
        }
        let inside = samples.compactMap { r -> (Double, Double)? in
            guard r["task"]?.stringValue == task, let t = r["time"]?.doubleValue, let c = r["cpu_seconds"]?.doubleValue, t >= first.0, t <= last.0 else { return nil }
            return (t, c)
        }.sorted { $0.0 < $1.0 }
        guard let a = inside.first, let b = inside.last, b.0 > a.0, let sa = step(at: a.0), let sb = step(at: b.0), sb - sa >= 5 else { return nil }
        return (b.1 - a.1) / (sb - sa)
    }

    /// Least squares of y ≈ Σ c_k·x_k on relative error (each row weighted by 1/y²), every
    /// coefficient ≥ 0: the best of the fits over each subset of the terms whose coefficients all
    /// come out ≥ 0 (the rest held at 0); nil when no row has y > 0.
    public static func nonnegativeFit(_ rows: [([Double], Double)]) -> [Double]? {
        let usable = rows.filter { $0.1 > 0 }
        guard let width = usable.first?.0.count, width > 0, width <= 8 else { return nil }
        var best: (residual: Double, c: [Double])?
        for mask in 1..<(1 << width) {
            let terms = (0..<width).filter { mask & (1 << $0) != 0 }
            let n = terms.count
            // Normal equations A·c = b over the chosen terms.
            var a = [[Double]](repeating: [Double](repeating: 0, count: n + 1), count: n)
            for (x, y) in usable {
                let w = 1 / (y * y)
                for i in 0..<n {
                    for j in 0..<n { a[i][j] += w * x[terms[i]] * x[terms[j]] }
                    a[i][n] += w * x[terms[i]] * y
                }
            }
            // Gaussian elimination with partial pivoting.
            var solvable = true
            for col in 0..<n {
                guard let pivot = (col..<n).max(by: { abs(a[$0][col]) < abs(a[$1][col]) }), abs(a[pivot][col]) > 1e-300 else { solvable = false; break }
                a.swapAt(col, pivot)
                for r in 0..<n where r != col {
                    let factor = a[r][col] / a[col][col]
                    for k in col...n { a[r][k] -= factor * a[col][k] }
                }
            }
            guard solvable else { continue }
            let solution = (0..<n).map { a[$0][n] / a[$0][$0] }
            guard solution.allSatisfy({ $0 >= 0 && $0.isFinite }) else { continue }
            var c = [Double](repeating: 0, count: width)
            for (i, t) in terms.enumerated() { c[t] = solution[i] }
            var residual = 0.0
            for (x, y) in usable {
                var fitted = 0.0
                for k in 0..<width { fitted += x[k] * c[k] }
                residual += (fitted - y) * (fitted - y) / (y * y)
            }
            if best == nil || residual < best!.residual { best = (residual, c) }
        }
        return best?.c
    }

    /// One short real job of the trainer for calibration (10 classes, 5,000 examples, no checkpoint
    /// or evaluation before the end, no restarts) in a folder of its own, removed afterwards: its
    /// metrics records and resource samples, or nil when it did not succeed.
    static func oneRun(features: Int, hidden: [Int], batch: Int, steps: Int, logEvery: Int,
                       topology: Topology) throws -> (records: [JSONValue], samples: [JSONValue])? {
        var training = TrainSettings()
        training.features = features
        training.hidden = hidden
        training.classes = 10
        training.batchSize = batch
        training.examples = 5_000
        training.logEvery = logEvery
        training.maxSteps = steps
        training.checkpointEvery = steps + 1
        training.evalEvery = steps + 1
        var settings = LaunchSettings()
        settings.topology = topology
        settings.training = training
        let folder = NSTemporaryDirectory() + "trainyard-calibrate-\(UInt32.random(in: 0...UInt32.max))"
        settings.jobDirectory = folder
        settings.restartPolicy = .never
        var options = Launcher.Options()
        options.showProgress = false
        defer { Files.remove(folder) }
        let outcome = try Launcher(settings: settings, options: options).run().outcome
        try Signals.checkInterrupted(outcome, "calibration")
        guard outcome.status == .succeeded else { return nil }
        let samples = ((try? Files.readText(folder + "/resources.jsonl")) ?? "").split(separator: "\n").compactMap { try? JSONParser.parse(String($0)) }
        return (MetricsLog(jobDirectory: folder).records(), samples)
    }

    /// Every task's CPU per global step in the steady window, summed, of `runs` runs of one cluster:
    /// their median (one run's moved by up to a third from one calibration to the next); nil when
    /// no run finished with every task's figure.
    static func medianClusterCPU(features: Int, hidden: [Int], batch: Int, steps: Int, logEvery: Int, topology: Topology, runs: Int) throws -> Double? {
        var cpus: [Double] = []
        for _ in 0..<runs {
            let found: (records: [JSONValue], samples: [JSONValue])?
            // A run that failed is left out; one that Ctrl-C stopped stops the calibration.
            do { found = try oneRun(features: features, hidden: hidden, batch: batch, steps: steps, logEvery: logEvery, topology: topology) } catch let i as Signals.Interrupted { throw i } catch { continue }
            guard let run = found else { continue }
            let perTask = topology.tasks.map { cpuPerStep(records: run.records, samples: run.samples, task: $0.description, maxSteps: steps) }
            if perTask.allSatisfy({ $0 != nil }) { cpus.append(perTask.map { $0! }.reduce(0, +)) }
        }
        return cpus.isEmpty ? nil : cpus.sorted()[cpus.count / 2]
    }

    /// How much more CPU the standard model's training step (784-256-128-10, batch 128) takes on a
    /// core while every core runs one than on one core alone, as a fraction (δ, 0 to 1): one thread,
    /// then `cores` threads at once, `pairs` times alternately, each thread's CPU time per step (so
    /// what other programs take of the cores does not count), the median of the ratios less one.
    /// (Three pairs of 0.2 s, their threads started apart, read 0, 0.03, 0.05 and 0.23 in four
    /// calibrations of one validation on the 2-vCPU VM: a pair is at the mercy of the host's
    /// swings.) 0 on one core.
    public static func concurrentComputeSlowdown(cores: Int, seconds: Double, pairs: Int = 7) -> Double {
        guard cores > 1 else { return 0 }
        // Mean CPU seconds per step over `threads` threads at once, each training a model of its own.
        func perStep(_ threads: Int) -> Double {
            let runs = Together.run(threads: threads, seconds: seconds) { _ in
                let mlp = KernelBench.MLPCase()
                return { mlp.step() }
            }
            let perThread = runs.map { $0.cpuSeconds / Double(max(1, $0.steps)) }
            return perThread.reduce(0, +) / Double(max(1, perThread.count))
        }
        var ratios: [Double] = []
        for _ in 0..<max(1, pairs) {
            let one = perStep(1), every = perStep(cores)
            if one > 0, every > 0 { ratios.append(every / one) }
        }
        guard let middle = CostValidation.median(ratios) else { return 0 }
        return min(1, max(0, middle - 1))
    }

    /// Measures the profile; `note` hears a line as each part starts.
    public static func measure(quick: Bool, note: (String) -> Void = { _ in }) throws -> CalibrationProfile {
        let scale = quick ? 0.3 : 1.0

        // 1. Training compute over model sizes and batches: fit seconds = fixed + tiled MACs × m +
        //    touched values × v (`CostModel.stepWork`). One rate per FLOP was off by −32% to +26%
        //    across these shapes: narrow layers waste most of each micro-tile, and small GEMMs pay
        //    their packing and writes at a few values per multiply-add.
        note("measuring training compute…\n")
        let tile = Gemm.tile
        let cacheBytes = MachineLimits.levelTwoCacheBytes() ?? 1 << 20
        let shapes: [(Int, [Int], Int, Int)] = [(8, [16], 4, 32), (32, [64, 32], 10, 64), (64, [128], 10, 64), (128, [256, 128], 10, 64),
                                                (256, [256, 256], 10, 64), (784, [256, 128], 10, 128), (256, [512, 256], 10, 128),
                                                (32, [1024, 1024], 10, 128), (64, [256, 256], 10, 16), (512, [1024, 512], 10, 8)]
        var points: [([Double], Double)] = []
        for (inputs, hidden, classes, batch) in shapes {
            let arch = MLPArchitecture(inputs: inputs, hidden: hidden, classes: classes)
            let trainer = MLPTrainer(architecture: arch, maxBatch: batch)
            var params = arch.initialParameters(seed: 1)
            var grads = [Float](repeating: 0, count: params.count)
            var x = [Float](repeating: 0, count: batch * inputs)
            var rng = SplitMix64(seed: 3)
            for i in x.indices { x[i] = Float(rng.nextGaussian()) }
            let y = (0..<batch).map { Int32($0 % classes) }
            let t = time(0.25 * scale) {
                _ = trainer.lossAndGradients(parameters: params, inputs: x, labels: y, rows: batch, gradients: &grads)
                params.withUnsafeMutableBufferPointer { p in
                    grads.withUnsafeBufferPointer { g in Updates.sgd(count: p.count, params: p.baseAddress!, gradients: g.baseAddress!, learningRate: 1e-6) }
                }
            }
            let work = CostModel.stepWork(arch, batch: batch, tile: tile, cacheBytes: cacheBytes)
            points.append(([1, work.tiledMACs, work.touchedValues, work.spilledWeights], t))
        }
        // (A fit with no cost per multiply-add or per value moved would be refused on reading.)
        let fitted = nonnegativeFit(points).flatMap { $0[1] + $0[2] > 0 ? $0 : nil }
        let computeFit = fitted ?? [0, points.map { $0.1 / $0.0[1] }.reduce(0, +) / Double(points.count), 0, 0]
        var fixed = computeFit[0]
        let terms = CalibrationProfile.ComputeTerms(tileRows: tile.rows, tileColumns: tile.columns, tileEdgeRows: tile.edgeRows, cacheBytes: cacheBytes,
                                                    secondsPerTiledMAC: computeFit[1], secondsPerTouchedValue: computeFit[2], secondsPerSpilledWeight: computeFit[3])
        func kernelSeconds(_ arch: MLPArchitecture, batch: Int) -> Double {
            computeFit[0] + terms.seconds(CostModel.stepWork(arch, batch: batch, tile: tile, cacheBytes: cacheBytes))
        }

        // 1b. The compute again, on every core at once: how much slower each core is then.
        note("measuring training compute on every core at once…\n")
        let slowdown = concurrentComputeSlowdown(cores: ProcessInfo.processInfo.activeProcessorCount, seconds: quick ? 0.1 : 0.25, pairs: quick ? 3 : 7)

        // 2. Requests and bytes over loopback, to a real parameter-server process: the costs a
        //    cluster pays (system calls, copies and context switches in both processes).
        note("measuring requests and loopback…\n")
        let token = Launcher.makeToken()
        let listener = try Socket.listen(on: HostPort(host: "127.0.0.1", port: 0))
        let address = HostPort(host: "localhost", port: listener.localAddress.port)
        var cluster = ClusterSpec()
        cluster.set(.ps, [address])
        // The ps admits hellos from the tasks of its cluster only: name the chief this client
        // speaks as (nothing listens there; the ps never connects to it).
        cluster.set(.chief, [HostPort(host: "127.0.0.1", port: 1)])
        var environment = ProcessInfo.processInfo.environment
        environment[RoleEnvironment.tfConfig] = TFConfig(cluster: cluster, task: .init(type: .ps, index: 0)).serialized()
        environment[RoleEnvironment.token] = token
        environment[RoleEnvironment.listenFD] = "3"
        environment[RoleEnvironment.parentPID] = String(Posix.getpid())
        let ps = try ProcessSpawner.spawn(SpawnRequest(executable: Executables.role(.ps)!,
                                                       arguments: ["--optimizer", "momentum", "--learning-rate", "1e-9"],
                                                       environment: environment, outputPath: "/dev/null", inherited: [listener.fd]))
        listener.close()
        defer {
            ProcessSpawner.signalGroup(ps, Signals.kill)
            _ = ProcessSpawner.wait(ps, timeout: 5)
        }
        let client = PeerClient(server: .ps(0), address: address, hello: Hello(token: token, task: .chief(0)))
        try client.connect(until: .after(seconds: 10))
        let n = 1 << 20
        _ = try client.call(.initialize(Initialize(incarnation: 1, globalStep: 0, maxSteps: .max, values: [Float](repeating: 0, count: n))), timeout: 10)
        client.incarnation = 1
        func psCPU() -> Double {
            guard let stat = try? Files.readText("/proc/\(ps)/stat"), let close = stat.lastIndex(of: ")") else { return 0 }
            let fields = stat[stat.index(close, offsetBy: 2)...].split(separator: " ")
            guard fields.count > 13, let u = Double(fields[11]), let k = Double(fields[12]) else { return 0 }
            return (u + k) / Posix.clockTicksPerSecond
        }
        for _ in 0..<200 { _ = try client.call(.status, timeout: 5) }
        var rpcCount = 0
        var cpu0 = cpuSeconds() + psCPU()
        var wall0 = MonotonicClock.now()
        while MonotonicClock.now() - wall0 < 1.0 * scale {
            _ = try client.call(.status, timeout: 5)
            rpcCount += 1
        }
        let rpcSeconds = (MonotonicClock.now() - wall0) / Double(rpcCount)
        let rpcCPU = (cpuSeconds() + psCPU() - cpu0) / Double(rpcCount)

        // 3. The ps update alone, per value.
        var values = [Float](repeating: 0, count: n), velocity = values
        let gradients = [Float](repeating: 1e-3, count: n)
        let update = time(0.2 * scale) {
            values.withUnsafeMutableBufferPointer { v in
                velocity.withUnsafeMutableBufferPointer { m in
                    gradients.withUnsafeBufferPointer { g in
                        Updates.momentum(count: n, params: v.baseAddress!, velocity: m.baseAddress!, gradients: g.baseAddress!, learningRate: 1e-9, momentum: 0.9, nesterov: false)
                    }
                }
            }
        } / Double(n)

        // 4. Big pushes and pulls: CPU per byte in both processes, beyond the update and the requests.
        var moved = 0.0
        var updates = 0.0
        var calls = 0.0
        cpu0 = cpuSeconds() + psCPU()
        wall0 = MonotonicClock.now()
        while MonotonicClock.now() - wall0 < 1.2 * scale {
            _ = try client.call(.push(Push(baseStep: 0, gradients: gradients)), timeout: 10)
            _ = try client.call(.pull(Pull()), timeout: 10)
            moved += Double(2 * n * 4)
            updates += Double(n)
            calls += 2
        }
        let byteSeconds = max(1e-12, (cpuSeconds() + psCPU() - cpu0 - updates * update - calls * rpcCPU) / moved)
        _ = try? client.call(.shutdown(reason: "calibrated"), timeout: 2)
        client.disconnect()

        // 5. The training task's own work per step beyond the kernel (drawing the batch, checking
        //    the gradients, applying them): a real one-task run of two model sizes.
        note("measuring the training task's own work per step…\n")
        var overheads: [(parameters: Double, batch: Double, seconds: Double)] = []
        var shardRun: (parameters: Double, cpu: Double, kernel: Double)?
        // Each run lasts about a second in a release build, so the resource samples (every 0.1 s,
        // CPU counted in 10 ms ticks) see a steady window of several samples (runs half as long
        // moved the per-value term by 8× between two calibrations); small and large models, small
        // and large batches.
        for (features, hidden, batch, steps, logEvery, ps) in [(16, [16], 4, quick ? 30_000 : 120_000, 200, 0), (64, [256, 256], 32, quick ? 3000 : 12_000, 50, 0),
                                                               (784, [1024, 512], 8, quick ? 300 : 1200, 10, 0), (784, [1024, 512], 8, quick ? 300 : 1200, 10, 1),
                                                               (64, [256, 256], 256, quick ? 600 : 2400, 20, 0), (256, [512, 256], 128, quick ? 400 : 1600, 10, 0)] {
            guard let run = try oneRun(features: features, hidden: hidden, batch: batch, steps: steps, logEvery: logEvery,
                                       topology: Topology(workers: 0, parameterServers: ps)) else { continue }
            let arch = MLPArchitecture(inputs: features, hidden: hidden, classes: 10)
            if let cpu = cpuPerStep(records: run.records, samples: run.samples, task: "chief-0", maxSteps: steps) {
                let kernel = kernelSeconds(arch, batch: batch)
                if ps == 0 {
                    overheads.append((Double(arch.parameterCount), Double(batch), cpu - kernel))
                } else {
                    shardRun = (Double(arch.parameterCount), cpu, kernel)
                }
            }
        }
        // The task's own work per step (its data, its gradient check, its update, and the kernel
        // running slower among them than alone: the weights and activations leave the caches
        // between steps) as a + v·P + e·B, fitted on relative error over the runs alone, each
        // coefficient at least 0.
        var trainerPerValue = 0.0, trainerPerExample = 0.0
        if overheads.count >= 3, let fit = Calibration.nonnegativeFit(overheads.map { ([1, $0.parameters, $0.batch], $0.seconds) }) {
            fixed += fit[0]
            trainerPerValue = fit[1]
            trainerPerExample = fit[2]
        }

        let f = ISO8601DateFormatter()
        var cpuName = "unknown CPU"
        if let info = try? Files.readText("/proc/cpuinfo"), let line = info.split(separator: "\n").first(where: { $0.hasPrefix("model name") }) {
            cpuName = line.split(separator: ":", maxSplits: 1).last.map { $0.trimmingCharacters(in: .whitespaces) } ?? cpuName
        }
        var profile = CalibrationProfile(cores: ProcessInfo.processInfo.activeProcessorCount, stepFixedSeconds: fixed, flopsPerSecond: terms.secondsPerTiledMAC > 0 ? 2 / terms.secondsPerTiledMAC : 1e12,
                                         rpcSeconds: rpcSeconds, rpcCPUSeconds: rpcCPU, byteSeconds: byteSeconds, updateSecondsPerValue: update,
                                         kernel: KernelBackendName.current, build: build, measuredAt: f.string(from: Date()),
                                         host: "\(Posix.hostname()) (\(cpuName))")
        profile.compute = terms
        profile.trainerSecondsPerValue = trainerPerValue
        profile.trainerSecondsPerExample = trainerPerExample
        profile.concurrentComputeSlowdown = slowdown
        // 6. With a ps, a training task splits its gradients into shards and takes the values back
        //    (beyond the messages' CPU measured above), but no longer applies the update itself:
        //    its CPU per step in a one-task, one-ps run, less the kernel, its own work alone and its
        //    half of the messages, per parameter. Negative when the update it leaves to the ps
        //    cost more than the sharding (it did, by 0.4 ns per value, on a 1.3 M-parameter model:
        //    clamping this at 0 over-predicted a cluster's trainer by 10% on a large model).
        if let run = shardRun {
            let messages = (rpcCPU + 2 * 4 * run.parameters * byteSeconds) / 2
            profile.shardSecondsPerValue = max(-trainerPerValue, (run.cpu - run.kernel - run.parameters * trainerPerValue - messages) / run.parameters)
        }
        // 7. Requests and bytes as a running cluster pays them: two training tasks and one ps, with
        //    requests from both arriving while the other works (one call at a time, above, pays a
        //    full sleep and wake-up of both processes each time, which a busy ps partly avoids). A
        //    tiny model (requests dominate) and a large one (bytes dominate): every task's CPU per
        //    global step in the steady window, less the kernel, the tasks' own work and the updates,
        //    is S requests and 2M bytes; two sizes give the CPU per request and per byte.
        note("measuring requests and bytes in a running cluster…\n")
        let repeats = quick ? 1 : 3
        let tinySteps = quick ? 30_000 : 120_000
        var clusterRuns: [(arch: MLPArchitecture, batch: Int, cpu: Double)] = []
        for (features, hidden, batch, steps, logEvery) in [(16, [16], 4, tinySteps, 100), (64, [256, 256], 32, quick ? 3000 : 12_000, 20),
                                                           (128, [512, 512], 16, quick ? 1000 : 4000, 10), (784, [1024, 512], 8, quick ? 300 : 1200, 5)] {
            // Three runs of each (the 0.34 MB model's CPU per byte read 0.05 to 0.11 ns from single runs).
            if let cpu = try medianClusterCPU(features: features, hidden: hidden, batch: batch, steps: steps, logEvery: logEvery,
                                          topology: Topology(workers: 1, parameterServers: 1), runs: repeats) {
                clusterRuns.append((MLPArchitecture(inputs: features, hidden: hidden, classes: 10), batch, cpu))
            }
        }
        // What the profile does not yet explain, per global step, is S requests and 2M bytes. The
        // two training tasks compute at once: their compute (with the shard split, as the model
        // counts it) costs 1 + δ·(2 − 1)/(C − 1) of what it does alone.
        let stretch = 1 + (profile.cores > 1 ? slowdown * Double(min(profile.cores, 2) - 1) / Double(profile.cores - 1) : 0)
        let unexplained = clusterRuns.map { r -> ([Double], Double) in
            let p = Double(r.arch.parameterCount)
            let compute = (profile.trainerStepSeconds(r.arch, batch: r.batch) + p * profile.clusterShardSecondsPerValue) * stretch
            return ([1, 2 * 4 * p], r.cpu - compute - p * update)
        }
        if clusterRuns.count >= 2, var fit = nonnegativeFit(unexplained), fit[0] > 0, fit[1] > 0 {
            // The tiny model's run is all requests (its 3.5 KB of bytes cost well under 1%): it
            // gives the request cost by itself. A joint fit over all sizes let the large models'
            // bytes pull it off by a quarter (23.6 µs against the 30 µs the tiny run paid).
            if let tiny = unexplained.first(where: { $0.0[1] < 64 * 1024 }), tiny.1 - tiny.0[1] * fit[1] > 0 {
                fit[0] = tiny.1 - tiny.0[1] * fit[1]
            }
            profile.rpcCPUSeconds = fit[0]
            profile.byteSeconds = fit[1]
            // The CPU per byte at each size measured, with that request cost: bytes that stay in
            // the caches (a 336 KB model) cost about half what a 5 MB model's do, which streams
            // through memory; one figure for all sizes was off by that much at one end or the other.
            profile.byteSecondsBySize = unexplained.compactMap { row -> CalibrationProfile.ByteCost? in
                let bytes = row.0[1] / 2
                let perByte = (row.1 - fit[0]) / row.0[1]
                return bytes >= 64 * 1024 && perByte > 0 ? CalibrationProfile.ByteCost(modelBytes: bytes, seconds: perByte) : nil
            }.sorted { $0.modelBytes < $1.modelBytes }
        }
        // 8. More processes than cores: the tiny model's run again with three workers (five
        //    processes on two cores). Its CPU per global step beyond the three-process run's is
        //    what each request costs more, per process beyond one more than the cores.
        let processes = 5
        // Processes beyond one more than the cores: in this run, less in the three-process one.
        let extra = max(0, processes - profile.cores - 1) - max(0, 3 - profile.cores - 1)
        if extra > 0, let tiny = clusterRuns.first(where: { $0.arch.parameterCount < 16 * 1024 }) {
            note("measuring requests with more processes than cores…\n")
            if let cpu = try medianClusterCPU(features: 16, hidden: [16], batch: 4, steps: tinySteps, logEvery: 100,
                                          topology: Topology(workers: processes - 2, parameterServers: 1), runs: repeats) {
                profile.rpcCPUSecondsPerExtraProcess = max(0, (cpu - tiny.cpu) / Double(extra))
            } else {
                note("  no run with five processes finished: requests are taken to cost the same however many processes share the cores\n")
            }
        }
        // 9. Two parameter servers: the tiny model's run with one worker and two ps (four
        //    processes). Each global step is two requests; what each costs beyond one request to a
        //    single ps and the extra process is the price of a ps that sleeps between requests.
        if let tiny = clusterRuns.first(where: { $0.arch.parameterCount < 16 * 1024 }) {
            note("measuring requests to two parameter servers…\n")
            if let cpu = try medianClusterCPU(features: 16, hidden: [16], batch: 4, steps: tinySteps, logEvery: 100,
                                          topology: Topology(workers: 1, parameterServers: 2), runs: repeats) {
                // cpu₂ = tiny's work beyond its request + 2 × (request + extra processes + extra server).
                let base = profile.requestCPUSeconds(processes: 3, servers: 1)
                let perRequest = (cpu - (tiny.cpu - base)) / 2
                profile.rpcCPUSecondsPerExtraServer = max(0, perRequest - profile.requestCPUSeconds(processes: 4, servers: 1))
            } else {
                note("  no run with two ps finished: requests are taken to cost the same however many ps there are\n")
            }
        }
        // Ctrl-C during the timings that run no job: not a calibration to trust or keep.
        try Signals.checkInterrupted("calibration")
        return profile
    }
}
