import Foundation
import TrainyardCore
import TrainyardPlatform

/// Files in the emulated buckets (`gs://bucket/path` ↔ `$TRAINYARD_HOME/buckets/bucket/path`).
public enum BucketStorage {
    public static func copy(_ from: String, _ to: String) throws {
        try Files.createDirectory((to as NSString).deletingLastPathComponent)
        try Files.writeAtomically(try Files.read(from), to: to)
    }

    /// Paths under `folder` (relative), folders marked; one level or all.
    public static func entries(_ folder: String, recursive: Bool) -> [(String, Bool)] {
        var out: [(String, Bool)] = []
        func walk(_ rel: String) {
            for name in Files.list(rel.isEmpty ? folder : folder + "/" + rel) {
                let path = rel.isEmpty ? name : rel + "/" + name
                let isDir = Files.isDirectory(folder + "/" + path)
                if isDir && recursive { walk(path) } else { out.append((path, isDir)) }
            }
        }
        walk("")
        return out
    }
}
