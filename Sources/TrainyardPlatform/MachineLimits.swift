#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif

/// What this machine and process may use, measured for `ResourceCheck` before a job starts.
public enum MachineLimits {
    /// Memory available to new processes without swapping (Linux `/proc/meminfo` MemAvailable),
    /// in bytes; `Int.max` when it cannot be read (the check then skips memory).
    public static func availableMemoryBytes() -> Int {
        guard let text = try? Files.readText("/proc/meminfo") else { return Int.max }
        return availableMemoryBytes(meminfo: text) ?? Int.max
    }

    /// MemAvailable from the text of `/proc/meminfo` (`MemAvailable:  8056932 kB`), in bytes.
    public static func availableMemoryBytes(meminfo: String) -> Int? {
        for line in meminfo.split(separator: "\n") where line.hasPrefix("MemAvailable:") {
            let fields = line.split(separator: " ")
            guard fields.count >= 2, let kb = Int(fields[1]) else { return nil }
            let (bytes, overflow) = kb.multipliedReportingOverflow(by: 1024)
            return overflow ? Int.max : bytes
        }
        return nil
    }

    /// The soft limit on this process's open file descriptors (RLIMIT_NOFILE), which the
    /// processes it starts inherit; `Int.max` when unlimited.
    public static func descriptorLimit() throws(SystemError) -> Int {
        var limit = rlimit()
        try Posix.call("getrlimit", "RLIMIT_NOFILE") { getrlimit(__rlimit_resource_t(RLIMIT_NOFILE.rawValue), &limit) }
        // RLIM_INFINITY is all ones: above Int.max.
        if limit.rlim_cur > UInt(Int.max) { return Int.max }
        return Int(limit.rlim_cur)
    }
}
