import Foundation
import TrainyardCore
import TrainyardPlatform

/// Files in the emulated buckets (`gs://bucket/path` ↔ `$TRAINYARD_HOME/buckets/bucket/path`).
///
/// No operation leaves `$TRAINYARD_HOME/buckets/<bucket>`: every local path is checked with its
/// symbolic links resolved (`localPath(of:home:)`), and walks never follow a link into a folder.
public enum BucketStorage {
    /// An operation that would reach outside its bucket through a symbolic link.
    public struct Escape: TrainyardError, Equatable {
        public var uri: String
        public var detail: String
        public var description: String { "\(uri): \(detail): a bucket operation may not leave its bucket" }
        public var exitCode: ExitCode { .invalidInput }
    }

    /// Where `uri` lives on this machine, checked to stay inside its bucket.
    ///
    /// - `followingLink`: whether the operation reads or writes through a final symbolic link (cat,
    ///   cp, ls) or acts on the link itself (rm). Then the real path of the object, or of its
    ///   nearest existing folder when it does not exist yet, must be inside the bucket's real folder,
    ///   and the bucket's folder itself may not be a link.
    /// - Throws: `Escape` naming the URI and where it would lead.
    public static func localPath(of uri: StorageURI, home: String, followingLink: Bool = true) throws(Escape) -> String {
        let bucketFolder = StorageURI.bucketsRoot(home: home) + "/" + uri.bucket
        let local = uri.localPath(home: home)
        guard let kind = Posix.fileKind(bucketFolder) else { return local }
        guard kind == .directory, let root = Posix.realPath(bucketFolder) else {
            throw Escape(uri: "\(uri)", detail: "the bucket's folder \(bucketFolder) is not a plain folder")
        }
        var probe = followingLink ? local : (local as NSString).deletingLastPathComponent
        while Posix.fileKind(probe) == nil {
            probe = (probe as NSString).deletingLastPathComponent
            if probe.count <= bucketFolder.count { return local }
        }
        if Posix.fileKind(probe) == .symbolicLink && Posix.realPath(probe) == nil {
            throw Escape(uri: "\(uri)", detail: "a symbolic link that leads nowhere (\(Posix.readLink(probe) ?? "?"))")
        }
        guard let real = Posix.realPath(probe), PathContainment.isInside(real, root) else {
            throw Escape(uri: "\(uri)", detail: "a symbolic link leads to \(Posix.realPath(probe) ?? "?")")
        }
        return local
    }

    /// Copies the regular file `from` to `to` (written atomically, its folders made), a megabyte at
    /// a time; a FIFO, socket or device is refused, never read; Ctrl-C stops it mid-file with
    /// nothing written (`Files.copyRegularFile`, `during` saying what stopped).
    public static func copy(_ from: String, _ to: String, during: @autoclosure () -> String = "copying a file") throws {
        try Files.createDirectory((to as NSString).deletingLastPathComponent)
        try Files.copyRegularFile(from, to: to, during: during())
    }

    /// One entry of a walk: its path relative to the folder, and what it is.
    public struct Entry: Sendable, Equatable {
        public var path: String
        public var isDirectory: Bool
        /// A symbolic link, reported and never followed.
        public var isLink: Bool
    }

    /// Paths under `folder` (relative), folders marked; one level or all. A symbolic link is
    /// listed as itself and never followed, so a link loop cannot make a walk endless.
    public static func walk(_ folder: String, recursive: Bool) -> [Entry] {
        var out: [Entry] = []
        func walk(_ rel: String) {
            for name in Files.list(rel.isEmpty ? folder : folder + "/" + rel) {
                let path = rel.isEmpty ? name : rel + "/" + name
                let kind = Posix.fileKind(folder + "/" + path)
                if kind == .directory && recursive { walk(path) } else {
                    out.append(Entry(path: path, isDirectory: kind == .directory, isLink: kind == .symbolicLink))
                }
            }
        }
        walk("")
        return out
    }

    /// Paths under `folder` (relative), folders marked; one level or all. Symbolic links are left
    /// out: a copy made from this list never reads through one.
    public static func entries(_ folder: String, recursive: Bool) -> [(String, Bool)] {
        walk(folder, recursive: recursive).filter { !$0.isLink }.map { ($0.path, $0.isDirectory) }
    }
}
