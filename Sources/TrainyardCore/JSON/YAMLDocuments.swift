extension YAMLParser {
    /// Parses a stream of YAML documents separated by `---` lines (as `kubectl` files hold a
    /// Secret, a claim and a job together), each as `parse` does; documents that hold nothing are
    /// left out. Errors give the line in the whole stream.
    public static func parseDocuments(_ text: String) throws(SyntaxError) -> [JSONValue] {
        var documents: [JSONValue] = []
        var chunk: [Substring] = []
        var chunkStart = 0
        func flush() throws(SyntaxError) {
            do {
                let value = try parse(chunk.joined(separator: "\n"))
                if value != .null { documents.append(value) }
            } catch {
                var shifted = error
                shifted.line += chunkStart
                throw shifted
            }
        }
        let pieces = Substring(text).split(omittingEmptySubsequences: false, whereSeparator: { $0 == "\n" || $0 == "\r\n" })
        for (i, piece) in pieces.enumerated() {
            var raw = piece
            if raw.last == "\r" { raw = raw.dropLast() }
            if raw == "---" || raw.hasPrefix("--- ") || raw.hasPrefix("---\t"), chunk.contains(where: { !$0.allSatisfy { $0 == " " || $0 == "\r" } }) {
                try flush()
                chunk = []
                chunkStart = i
            }
            chunk.append(piece)
        }
        if !chunk.isEmpty { try flush() }
        return documents
    }
}
