import Foundation
import TrainyardCore
import TrainyardLaunch
import TrainyardPlatform

/// `trainyard storage ls|cp|cat|rm`: gsutil's basics on the emulated buckets
/// (`gs://bucket/path` ↔ `$TRAINYARD_HOME/buckets/bucket/path`).
enum StorageCommand {
    static let help = HelpPage(
        usage: "trainyard storage COMMAND",
        summary: "gsutil's basics on the emulated buckets (gs://BUCKET/PATH ↔ $TRAINYARD_HOME/buckets/BUCKET/PATH).",
        options: [("-r, --recursive", "folders: every object below"), ("-l, --long", "ls: sizes")],
        subcommands: [
            .init(words: ["ls"], usage: "trainyard storage ls [-r] [-l] [gs://BUCKET[/PATH]]", summary: "Lists buckets, or the objects and folders under a URI."),
            .init(words: ["cp"], usage: "trainyard storage cp [-r] SRC DST", summary: "Copies between local paths and buckets, either way; a bucket is made when first written."),
            .init(words: ["cat"], usage: "trainyard storage cat gs://…", summary: "Prints an object."),
            .init(words: ["rm"], usage: "trainyard storage rm [-r] gs://…", summary: "Deletes an object (-r: everything under a URI)."),
        ])

    static func run(_ argv: [String]) throws -> ExitCode {
        var args = Arguments(argv.map { $0 == "-r" || $0 == "-R" ? "--recursive" : ($0 == "-l" ? "--long" : $0) })
        let recursive = try args.flag("--recursive")
        let long = try args.flag("--long")
        guard let sub = args.positional() else { throw UsageError("storage needs a subcommand: ls, cp, cat or rm") }
        var operands: [String] = []
        while let o = args.positional() { operands.append(o) }
        try args.finish()
        let home = Home.path
        switch sub {
        case "ls":
            guard operands.count <= 1 else { throw UsageError("storage ls takes one URI") }
            if operands.isEmpty || operands[0] == "gs://" {
                for b in Files.list(StorageURI.bucketsRoot(home: home)) where Files.isDirectory(StorageURI.bucketsRoot(home: home) + "/" + b) { print("gs://\(b)/") }
                return .success
            }
            let uri = try uri(operands[0])
            let local = try BucketStorage.localPath(of: uri, home: home)
            guard Files.exists(local) else { throw RuntimeFailure("\(uri): no such object or folder", exitCode: .failure) }
            if !Files.isDirectory(local) { print(long ? "\(Files.size(local) ?? 0)\t\(uri)" : "\(uri)"); return .success }
            for entry in BucketStorage.walk(local, recursive: recursive) {
                let child = uri.appending(entry.path)
                if entry.isDirectory { print("\(child)/") }
                else if entry.isLink { print("\(child) (symbolic link, not followed)") }
                else { print(long ? "\(Files.size(local + "/" + entry.path) ?? 0)\t\(child)" : "\(child)") }
            }
        case "cat":
            guard operands.count == 1 else { throw UsageError("storage cat takes one URI") }
            let uri = try uri(operands[0])
            let local = try BucketStorage.localPath(of: uri, home: home)
            guard Files.exists(local), !Files.isDirectory(local) else { throw RuntimeFailure("\(uri): no such object", exitCode: .failure) }
            let bytes = try Files.read(local)
            _ = try Posix.writeAll(bytes, to: 1, "standard output")
        case "rm":
            guard !operands.isEmpty else { throw UsageError("storage rm needs a URI") }
            for o in operands {
                let uri = try uri(o)
                // rm acts on a link itself (never on what it names), but not through a linked folder.
                let local = try BucketStorage.localPath(of: uri, home: home, followingLink: false)
                guard Posix.fileKind(local) != nil else { throw RuntimeFailure("\(uri): no such object", exitCode: .failure) }
                if Posix.fileKind(local) == .directory && !recursive { throw UsageError("\(uri) is a folder: use rm -r") }
                guard !uri.path.isEmpty || recursive else { throw UsageError("removing a whole bucket needs rm -r") }
                Files.remove(local)
                print("Removed \(uri)")
            }
        case "cp":
            guard operands.count == 2 else { throw UsageError("storage cp takes SRC and DST") }
            let (src, dst) = (operands[0], operands[1])
            guard StorageURI.isStorageURI(src) || StorageURI.isStorageURI(dst) else {
                throw UsageError("storage cp copies to or from a bucket: one of SRC and DST must be a gs:// URI")
            }
            let srcURI = StorageURI.isStorageURI(src) ? try uri(src) : nil
            let dstURI = StorageURI.isStorageURI(dst) ? try uri(dst) : nil
            let from = try srcURI.map { (u) throws in try BucketStorage.localPath(of: u, home: home) } ?? Files.absolute(src)
            var to = try dstURI.map { (u) throws in try BucketStorage.localPath(of: u, home: home) } ?? Files.absolute(dst)
            guard Files.exists(from) else { throw RuntimeFailure("\(src): no such file or object", exitCode: .failure) }
            let name = (from as NSString).lastPathComponent
            var toURI = dstURI
            if dst.hasSuffix("/") || Files.isDirectory(to) {
                to += "/" + name
                toURI = toURI?.appending(name)
                if let toURI { _ = try BucketStorage.localPath(of: toURI, home: home) }
            }
            if Files.isDirectory(from) {
                guard recursive else { throw UsageError("\(src) is a folder: use cp -r") }
                var count = 0
                var files: [BucketStorage.Entry] = []
                for entry in BucketStorage.walk(from, recursive: true) where !entry.isDirectory {
                    // Links are never followed (a link loop would copy forever); they are named and skipped.
                    if entry.isLink {
                        Posix.write("Skipping symbolic link \(from)/\(entry.path)\n", to: 2)
                    } else if Posix.fileKind(from + "/" + entry.path) != .file {
                        // A FIFO, socket or device is no object: reading a FIFO would wait for a writer forever.
                        Posix.write("Skipping \(from)/\(entry.path): not a regular file\n", to: 2)
                    } else {
                        files.append(entry)
                    }
                }
                for entry in files {
                    // Ctrl-C stops between files: each copy is whole (written atomically) or absent.
                    try Signals.checkInterrupted("storage cp -r (\(count) of \(files.count) files copied to \(display(to, dstURI, dst)))")
                    if let toURI { _ = try BucketStorage.localPath(of: toURI.appending(entry.path), home: home) }
                    try BucketStorage.copy(from + "/" + entry.path, to + "/" + entry.path,
                                           during: "storage cp -r (\(count) of \(files.count) files copied to \(display(to, dstURI, dst)))")
                    count += 1
                }
                print("Copied \(count) file\(count == 1 ? "" : "s") from \(src) to \(display(to, dstURI, dst))")
            } else {
                try BucketStorage.copy(from, to, during: "storage cp (nothing written to \(display(to, dstURI, dst)))")
                print("Copied \(src) to \(display(to, dstURI, dst))")
            }
        default:
            throw UsageError("unknown storage subcommand \"\(sub)\" (expected ls, cp, cat or rm)")
        }
        return .success
    }

    static func uri(_ text: String) throws -> StorageURI {
        do { return try StorageURI(parsing: text) } catch { throw UsageError(error.message) }
    }

    static func display(_ local: String, _ uri: StorageURI?, _ given: String) -> String {
        guard let uri else { return local }
        let root = StorageURI.bucketsRoot(home: Home.path) + "/" + uri.bucket + "/"
        return local.hasPrefix(root) ? "gs://\(uri.bucket)/" + local.dropFirst(root.count) : given
    }
}
