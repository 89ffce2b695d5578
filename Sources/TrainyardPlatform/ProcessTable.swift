import Foundation

/// A look at the machine's processes (Linux `/proc`), to prove none outlived a run.
public enum ProcessTable {
    /// Pids of live (not zombie) processes whose command line contains `marker`, except this one
    /// and its ancestors (a `timeout` or shell that started us may well mention the marker).
    public static func processes(mentioning marker: String) -> [Int32] {
        var excluded: Set<Int32> = [Posix.getpid()]
        var cursor = Posix.getppid()
        while cursor > 1, excluded.insert(cursor).inserted, let parent = parentPID(of: cursor) { cursor = parent }
        return Files.list("/proc").compactMap { entry -> Int32? in
            guard let pid = Int32(entry), !excluded.contains(pid),
                  let data = FileManager.default.contents(atPath: "/proc/\(entry)/cmdline") else { return nil }
            let cmdline = String(decoding: data.map { $0 == 0 ? 32 : $0 }, as: UTF8.self)
            guard cmdline.contains(marker) else { return nil }
            if let stat = try? Files.readText("/proc/\(entry)/stat"), let close = stat.lastIndex(of: ")"),
               stat.index(close, offsetBy: 2) < stat.endIndex, stat[stat.index(close, offsetBy: 2)] == "Z" { return nil }
            return pid
        }
    }

    /// When the live process `pid` started, in clock ticks after boot (`/proc/PID/stat` field 22);
    /// nil when no process holds `pid` or it is a zombie (dead, waiting to be reaped). A pid and
    /// this time together name one process: a pid reused later comes with a later start time.
    public static func startTicks(of pid: Int32) -> Int? {
        guard let stat = try? Files.readText("/proc/\(pid)/stat"), let close = stat.lastIndex(of: ")"),
              stat.index(close, offsetBy: 2, limitedBy: stat.endIndex) != nil else { return nil }
        // Fields after the command's closing parenthesis, from field 3 (the state).
        let fields = stat[stat.index(close, offsetBy: 2)...].split(separator: " ")
        guard fields.count > 19, fields[0] != "Z", fields[0] != "X" else { return nil }
        return Int(fields[19])
    }

    static func parentPID(of pid: Int32) -> Int32? {
        guard let stat = try? Files.readText("/proc/\(pid)/stat"), let close = stat.lastIndex(of: ")") else { return nil }
        let fields = stat[stat.index(close, offsetBy: 2)...].split(separator: " ")
        return fields.count > 1 ? Int32(fields[1]) : nil
    }

    /// The largest resident set a process reached (VmHWM), in bytes.
    public static func peakResidentBytes(of pid: Int32) -> Int? {
        guard let status = try? Files.readText("/proc/\(pid)/status") else { return nil }
        for line in status.split(separator: "\n") where line.hasPrefix("VmHWM:") {
            let kb = line.split(separator: " ").compactMap { Int($0) }.first
            return kb.map { $0 * 1024 }
        }
        return nil
    }

    /// CPU time used so far (user + system, seconds) and resident set (bytes) of a live process,
    /// from `/proc/<pid>/stat` and `/proc/<pid>/statm`; nil once it is gone.
    public static func usage(of pid: Int32) -> (cpuSeconds: Double, residentBytes: Int)? {
        guard let stat = try? Files.readText("/proc/\(pid)/stat"), let close = stat.lastIndex(of: ")"),
              let statm = try? Files.readText("/proc/\(pid)/statm") else { return nil }
        // Fields after the command: state(3) ppid(4) … utime(14) stime(15).
        let fields = stat[stat.index(after: close)...].split(separator: " ")
        let pages = statm.split(separator: " ")
        guard fields.count > 12, let user = Double(fields[11]), let system = Double(fields[12]),
              pages.count > 1, let resident = Int(pages[1]) else { return nil }
        return ((user + system) / Posix.clockTicksPerSecond, resident * Posix.pageSize)
    }

    /// Bytes the process has passed to write-like system calls so far (`wchar` of `/proc/<pid>/io`:
    /// sockets, pipes and files alike); nil once it is gone or when the kernel hides it.
    public static func writtenBytes(of pid: Int32) -> Int? {
        guard let io = try? Files.readText("/proc/\(pid)/io"),
              let line = io.split(separator: "\n").first(where: { $0.hasPrefix("wchar:") }) else { return nil }
        return Int(line.dropFirst(6).trimmingCharacters(in: .whitespaces))
    }
}
