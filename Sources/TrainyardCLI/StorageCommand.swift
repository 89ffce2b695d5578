import Foundation
import TrainyardCore
import TrainyardLaunch
import TrainyardPlatform

/// `trainyard storage ls|cp|cat|rm`: gsutil's basics on the emulated buckets
/// (`gs://bucket/path` ↔ `$TRAINYARD_HOME/buckets/bucket/path`).
enum StorageCommand {
    static func run(_ argv: [String]) throws -> ExitCode {
        var args = Arguments(argv.map { $0 == "-r" || $0 == "-R" ? "--recursive" : ($0 == "-l" ? "--long" : $0) })
        if try args.flag("--help") {
            print(TrainyardCommand.helpText("trainyard storage ls [-r] [-l] [gs://BUCKET[/PATH]] | cp [-r] SRC DST | cat gs://… | rm [-r] gs://…", [
                ("ls", "list buckets, or the objects and folders under a URI (-r: every object below it, -l: sizes)"),
                ("cp SRC DST", "copy between local paths and buckets, either way (-r: folders); a bucket is made when first written"),
                ("cat URI", "print an object"),
                ("rm URI", "delete an object (-r: everything under a URI)"),
            ]) + "\n\nBuckets live in \(StorageURI.bucketsRoot(home: Home.path)).")
            return .success
        }
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
            let local = uri.localPath(home: home)
            guard Files.exists(local) else { throw RuntimeFailure("\(uri): no such object or folder", exitCode: .failure) }
            if !Files.isDirectory(local) { print(long ? "\(Files.size(local) ?? 0)\t\(uri)" : "\(uri)"); return .success }
            for (path, isDir) in BucketStorage.entries(local, recursive: recursive) {
                let child = uri.appending(path)
                if isDir { print("\(child)/") } else { print(long ? "\(Files.size(local + "/" + path) ?? 0)\t\(child)" : "\(child)") }
            }
        case "cat":
            guard operands.count == 1 else { throw UsageError("storage cat takes one URI") }
            let uri = try uri(operands[0])
            let local = uri.localPath(home: home)
            guard Files.exists(local), !Files.isDirectory(local) else { throw RuntimeFailure("\(uri): no such object", exitCode: .failure) }
            let bytes = try Files.read(local)
            FileHandle.standardOutput.write(Data(bytes))
        case "rm":
            guard !operands.isEmpty else { throw UsageError("storage rm needs a URI") }
            for o in operands {
                let uri = try uri(o)
                let local = uri.localPath(home: home)
                guard Files.exists(local) else { throw RuntimeFailure("\(uri): no such object", exitCode: .failure) }
                if Files.isDirectory(local) && !recursive { throw UsageError("\(uri) is a folder: use rm -r") }
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
            let from = srcURI?.localPath(home: home) ?? Files.absolute(src)
            var to = dstURI?.localPath(home: home) ?? Files.absolute(dst)
            guard Files.exists(from) else { throw RuntimeFailure("\(src): no such file or object", exitCode: .failure) }
            let name = (from as NSString).lastPathComponent
            if dst.hasSuffix("/") || Files.isDirectory(to) { to += "/" + name }
            if Files.isDirectory(from) {
                guard recursive else { throw UsageError("\(src) is a folder: use cp -r") }
                var count = 0
                for (path, isDir) in BucketStorage.entries(from, recursive: true) where !isDir {
                    try BucketStorage.copy(from + "/" + path, to + "/" + path)
                    count += 1
                }
                print("Copied \(count) file\(count == 1 ? "" : "s") from \(src) to \(display(to, dstURI, dst))")
            } else {
                try BucketStorage.copy(from, to)
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
