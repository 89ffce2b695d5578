/// A Cloud Storage URI, `gs://bucket/path/to/object`, and where it lives on this machine:
/// `$TRAINYARD_HOME/buckets/<bucket>/<path>`.
///
/// Bucket names follow Cloud Storage's rules (3–63 characters: lowercase letters, digits, `-`, `_`
/// and `.`, starting and ending with a letter or digit). Object paths may not escape their bucket:
/// `..` and `.` segments, empty segments (`a//b`), backslashes and control characters are refused
/// with an error that says which part is wrong.
public struct StorageURI: Sendable, Equatable, Hashable, CustomStringConvertible {
    public var bucket: String
    /// The object path inside the bucket, without a leading slash; empty for the bucket itself.
    public var path: String
    /// Whether the URI ended with `/` (a "folder").
    public var trailingSlash: Bool

    public static let scheme = "gs://"

    public static func isStorageURI(_ text: String) -> Bool { text.hasPrefix(scheme) }

    public init(parsing text: String) throws(FieldError) {
        guard text.hasPrefix(StorageURI.scheme) else {
            throw FieldError(path: "", "\"\(text)\" is not a gs:// URI")
        }
        let rest = text.dropFirst(StorageURI.scheme.count)
        let bucketPart = rest.prefix { $0 != "/" }
        let bucket = String(bucketPart)
        guard (3...63).contains(bucket.count) else {
            throw FieldError(path: "", "\"\(text)\": bucket name \"\(bucket)\" must have 3 to 63 characters")
        }
        guard bucket.allSatisfy({ ($0.isASCII && ($0.isLowercase || $0.isNumber)) || $0 == "-" || $0 == "_" || $0 == "." }),
              let first = bucket.first, let last = bucket.last, first.isLetter || first.isNumber, last.isLetter || last.isNumber else {
            throw FieldError(path: "", "\"\(text)\": bucket name \"\(bucket)\" may hold only lowercase letters, digits, -, _ and ., and must start and end with a letter or digit")
        }
        guard !bucket.contains("..") else { throw FieldError(path: "", "\"\(text)\": bucket name \"\(bucket)\" may not contain \"..\"") }
        var path = String(rest.dropFirst(bucket.count))
        if path.hasPrefix("/") { path.removeFirst() }
        if path.hasPrefix("/") { throw FieldError(path: "", "\"\(text)\": empty path segment (\"//\") — an absolute path inside a bucket is not allowed") }
        let trailing = path.hasSuffix("/")
        if trailing { path.removeLast() }
        if !path.isEmpty {
            for segment in path.split(separator: "/", omittingEmptySubsequences: false) {
                if segment.isEmpty { throw FieldError(path: "", "\"\(text)\": empty path segment (\"//\") — an absolute path inside a bucket is not allowed") }
                if segment == ".." || segment == "." { throw FieldError(path: "", "\"\(text)\": \"\(segment)\" segments would leave the bucket") }
                if segment.contains("\\") || segment.unicodeScalars.contains(where: { $0.value < 0x20 || $0.value == 0x7F }) {
                    throw FieldError(path: "", "\"\(text)\": backslashes and control characters are not allowed in object names")
                }
            }
        }
        self.bucket = bucket
        self.path = path
        self.trailingSlash = trailing
    }

    public init(bucket: String, path: String) {
        self.bucket = bucket
        self.path = path
        trailingSlash = false
    }

    /// The URI as written: `gs://bucket`, `gs://bucket/path` or `gs://bucket/path/` (it parses
    /// back to the same value; `gs://bucket/` is the bucket itself).
    public var description: String { StorageURI.scheme + bucket + (path.isEmpty ? "" : "/" + path) + (trailingSlash && !path.isEmpty ? "/" : "") }

    /// The local folder of a bucket under `home` (`$TRAINYARD_HOME`).
    public static func bucketsRoot(home: String) -> String { home + "/buckets" }

    /// Where this object (or folder) lives under `home`.
    public func localPath(home: String) -> String {
        StorageURI.bucketsRoot(home: home) + "/" + bucket + (path.isEmpty ? "" : "/" + path)
    }

    /// This URI with `name` appended as a further path segment.
    public func appending(_ name: String) -> StorageURI {
        StorageURI(bucket: bucket, path: path.isEmpty ? name : path + "/" + name)
    }
}
