/// Pure checks that a path stays inside a folder: the lexical half of Trainyard's rule that no
/// package, bucket or checkpoint operation leaves its own folder (the platform layer adds the real
/// paths, with symbolic links resolved).
public enum PathContainment {
    /// Whether the absolute `path` is `root` or lies below it (both already normalized).
    public static func isInside(_ path: String?, _ root: String) -> Bool {
        guard let path else { return false }
        if root == "/" { return path.hasPrefix("/") }
        return path == root || path.hasPrefix(root + "/")
    }

    /// `relative` with `.` and empty segments dropped and `..` applied; nil when it climbs above
    /// its starting folder or is absolute.
    public static func normalizedRelative(_ relative: String) -> String? {
        guard !relative.hasPrefix("/") else { return nil }
        var kept: [Substring] = []
        for segment in relative.split(separator: "/", omittingEmptySubsequences: true) {
            switch segment {
            case ".": continue
            case "..":
                guard !kept.isEmpty else { return nil }
                kept.removeLast()
            default: kept.append(segment)
            }
        }
        return kept.joined(separator: "/")
    }

    /// Whether `name` is a plain file name: not empty, no `/`, not `.` or `..`, no NUL.
    public static func isPlainName(_ name: String) -> Bool {
        !name.isEmpty && name != "." && name != ".." && !name.contains("/") && !name.contains("\0")
    }
}
