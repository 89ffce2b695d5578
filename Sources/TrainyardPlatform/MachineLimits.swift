import Foundation
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

    /// The size of one core's level-2 cache in bytes (Linux sysfs), or nil when it cannot be read.
    public static func levelTwoCacheBytes() -> Int? {
        let base = "/sys/devices/system/cpu/cpu0/cache"
        for index in 0..<8 {
            guard let level = try? Files.readText("\(base)/index\(index)/level") else { break }
            guard level.trimmingCharacters(in: .whitespacesAndNewlines) == "2",
                  let size = try? Files.readText("\(base)/index\(index)/size") else { continue }
            return cacheSize(size)
        }
        return nil
    }

    /// A sysfs cache size (`1024K`, `2M`, `512`) in bytes.
    public static func cacheSize(_ text: String) -> Int? {
        let t = text.trimmingCharacters(in: .whitespacesAndNewlines)
        guard let unit = t.last else { return nil }
        let factor = unit == "K" ? 1024 : unit == "M" ? 1 << 20 : unit == "G" ? 1 << 30 : 1
        guard let number = Int(factor == 1 ? t : String(t.dropLast())), number > 0 else { return nil }
        let (bytes, overflow) = number.multipliedReportingOverflow(by: factor)
        return overflow ? nil : bytes
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
