/// Reads labelled examples from CSV text: numeric feature columns and one label column.
///
/// - The label column is chosen by name (needs a header) or by zero-based index; by default the
///   column named `label`, else the last one.
/// - A header is detected when the first row has a field that is not a number (or forced).
/// - Line ends may be LF or CRLF, and a leading UTF-8 byte-order mark is ignored, so files
///   written by spreadsheets read like any other.
/// - Every value is checked: a feature that is not a finite number (NaN, inf, text), a row with
///   too few or too many fields and a missing label are errors naming `file:line` and the column.
/// - Labels may be integers or any strings; the distinct labels, sorted (numerically when they are
///   all numbers), become classes 0, 1, ….
/// - The last `evalFraction` of the rows is held out. The training rows are dealt round-robin to
///   `shardCount` shards; only shard `shard`'s rows are kept, but every training row's features
///   feed the standardization statistics (mean and standard deviation per column, from the training
///   split), so all shards are standardized alike. Held-out rows use the same statistics.
public struct CSVDataset {
    public enum Header: String, Sendable, CaseIterable {
        case auto, yes = "true", no = "false"
    }

    public enum LabelColumn: Sendable, Equatable {
        case automatic
        case name(String)
        case index(Int)

        public init(parsing text: String) {
            if let i = Int(text), i >= 0 { self = .index(i) } else { self = .name(text) }
        }
    }

    public struct Options: Sendable, Equatable {
        public var label = LabelColumn.automatic
        public var header = Header.auto
        public var standardize = true
        public init(label: LabelColumn = .automatic, header: Header = .auto, standardize: Bool = true) {
            self.label = label
            self.header = header
            self.standardize = standardize
        }
    }

    /// A parse failure with the file and line.
    public static func error(_ file: String, line: Int, _ message: String) -> FieldError {
        FieldError(source: "\(file):\(line)", path: "", message)
    }

    public static func load(text: String, file: String, options: Options, evalFraction: Double, shard: Int, of shardCount: Int) throws(FieldError) -> DataSplit {
        var rows: [(line: Int, fields: [Substring])] = []
        var lineNumber = 0
        // A byte-order mark is not part of the first column's name.
        var body = Substring(text)
        if body.unicodeScalars.first == "\u{FEFF}" { body = Substring(body.unicodeScalars.dropFirst()) }
        // "\r\n" is one Character in Swift, so splitting on "\n" alone would leave a CRLF file in one line.
        for rawLine in body.split(omittingEmptySubsequences: false, whereSeparator: { $0 == "\n" || $0 == "\r\n" }) {
            lineNumber += 1
            var line = rawLine
            if line.last == "\r" { line = line.dropLast() }
            if line.allSatisfy({ $0 == " " || $0 == "\t" }) { continue }
            rows.append((lineNumber, splitFields(line)))
        }
        guard let first = rows.first else { throw FieldError(source: file, path: "", "the file has no rows") }

        let hasHeader: Bool
        switch options.header {
        case .yes: hasHeader = true
        case .no: hasHeader = false
        case .auto: hasHeader = first.fields.contains { Double(trim($0)) == nil }
        }
        let names: [String] = hasHeader ? first.fields.map { String(trim($0)) } : (0..<first.fields.count).map { "column \($0)" }
        if hasHeader { rows.removeFirst() }
        let width = names.count
        guard width >= 2 else { throw error(file, line: first.line, "expected at least 2 columns (features and a label), found \(width)") }

        let labelIndex: Int
        switch options.label {
        case .index(let i):
            guard i < width else { throw FieldError(source: file, path: "", "label column \(i) does not exist: rows have \(width) columns (0...\(width - 1))") }
            labelIndex = i
        case .name(let n):
            guard hasHeader else { throw FieldError(source: file, path: "", "label column \"\(n)\" named, but the file has no header row (give the column's index instead)") }
            guard let i = names.firstIndex(of: n) ?? names.firstIndex(where: { $0.lowercased() == n.lowercased() }) else {
                throw FieldError(source: file, path: "", "no column named \"\(n)\" (columns: \(names.joined(separator: ", ")))")
            }
            labelIndex = i
        case .automatic:
            labelIndex = names.firstIndex { $0.lowercased() == "label" } ?? width - 1
        }
        guard !rows.isEmpty else { throw FieldError(source: file, path: "", "the file has a header but no data rows") }

        // Classes, from every row's label.
        var labelTexts: [String] = []
        labelTexts.reserveCapacity(rows.count)
        for row in rows {
            guard row.fields.count == width else {
                let found = row.fields.count
                let which = found < width
                    ? "column \(found) (\"\(names[found])\")\(found + 1 < width ? " and after are" : " is") missing"
                    : "column \(width) and after have no \(hasHeader ? "header" : "place in the first row")"
                throw error(file, line: row.line, "expected \(width) fields, found \(found): \(which)")
            }
            let t = String(trim(row.fields[labelIndex]))
            let column = "column \(labelIndex) (\"\(names[labelIndex])\")"
            guard !t.isEmpty else { throw error(file, line: row.line, "\(column): the label is missing") }
            if let v = Double(t), !v.isFinite {
                throw error(file, line: row.line, "\(column): the label \"\(t)\" is not a finite number (a missing value?)")
            }
            labelTexts.append(t)
        }
        let distinct = Array(Set(labelTexts))
        let sorted = distinct.allSatisfy { Double($0) != nil }
            ? distinct.sorted { Double($0)! < Double($1)! }
            : distinct.sorted()
        guard sorted.count >= 2 else { throw FieldError(source: file, path: "", "the label column \"\(names[labelIndex])\" has a single value: nothing to classify") }
        let classOf = Dictionary(uniqueKeysWithValues: sorted.enumerated().map { ($0.element, Int32($0.offset)) })

        let inputs = width - 1
        let evalCount = min(rows.count - 1, max(0, Int((Double(rows.count) * evalFraction).rounded())))
        let trainCount = rows.count - evalCount
        var sum = [Double](repeating: 0, count: inputs)
        var sumSquares = [Double](repeating: 0, count: inputs)
        var trainFeatures: [Float] = []
        var trainLabels: [Int32] = []
        var evalFeatures: [Float] = []
        var evalLabels: [Int32] = []
        var values = [Double](repeating: 0, count: inputs)
        for (r, row) in rows.enumerated() {
            let isEval = r >= trainCount
            let mine = isEval || r % shardCount == shard
            // Training rows of other shards are parsed for the statistics only.
            var c = 0
            for (k, field) in row.fields.enumerated() where k != labelIndex {
                guard let v = Double(trim(field)) else {
                    throw error(file, line: row.line, "column \(k) (\"\(names[k])\"): \"\(trim(field))\" is not a number")
                }
                // Beyond Float's range a value would become infinite in training.
                guard v.isFinite, abs(v) <= Double(Float.greatestFiniteMagnitude) else {
                    throw error(file, line: row.line, "column \(k) (\"\(names[k])\"): \"\(trim(field))\" is not a finite number in Float's range")
                }
                values[c] = v
                c += 1
            }
            if !isEval {
                for i in 0..<inputs { sum[i] += values[i]; sumSquares[i] += values[i] * values[i] }
            }
            guard mine else { continue }
            if isEval {
                evalFeatures.append(contentsOf: values.map(Float.init))
                evalLabels.append(classOf[labelTexts[r]]!)
            } else {
                trainFeatures.append(contentsOf: values.map(Float.init))
                trainLabels.append(classOf[labelTexts[r]]!)
            }
        }
        if options.standardize {
            let n = Double(trainCount)
            let mean = sum.map { $0 / n }
            let std = (0..<inputs).map { i -> Double in
                let variance = max(0, sumSquares[i] / n - mean[i] * mean[i])
                return variance > 1e-24 ? variance.squareRoot() : 1
            }
            for features in [0, 1] {
                var f = features == 0 ? trainFeatures : evalFeatures
                for i in f.indices {
                    let c = i % inputs
                    f[i] = Float((Double(f[i]) - mean[c]) / std[c])
                }
                if features == 0 { trainFeatures = f } else { evalFeatures = f }
            }
        }
        return DataSplit(
            train: Dataset(inputs: inputs, classes: sorted.count, features: trainFeatures, labels: trainLabels),
            eval: Dataset(inputs: inputs, classes: sorted.count, features: evalFeatures, labels: evalLabels))
    }

    private static func trim(_ s: Substring) -> Substring {
        var s = s
        while let f = s.first, f == " " || f == "\t" || f == "\"" { s = s.dropFirst() }
        while let l = s.last, l == " " || l == "\t" || l == "\"" { s = s.dropLast() }
        return s
    }

    /// Splits on commas outside double quotes.
    private static func splitFields(_ line: Substring) -> [Substring] {
        guard line.contains("\"") else { return line.split(separator: ",", omittingEmptySubsequences: false) }
        var fields: [Substring] = []
        var start = line.startIndex
        var quoted = false
        var i = line.startIndex
        while i < line.endIndex {
            if line[i] == "\"" { quoted.toggle() } else if line[i] == "," && !quoted {
                fields.append(line[start..<i])
                start = line.index(after: i)
            }
            i = line.index(after: i)
        }
        fields.append(line[start...])
        return fields
    }
}
