import Foundation
import TrainyardCore

/// A command's `--help`: its synopsis, options and subcommands, each subcommand with the options it
/// accepts. `trainyard COMMAND [SUBCOMMAND…] --help` prints the page of the deepest subcommand named.
struct HelpPage {
    struct Subcommand {
        /// The words that name it (`["submit", "training"]`).
        var words: [String]
        var usage: String
        var summary: String
        var options: [(String, String)] = []
    }

    var usage: String
    var summary: String
    var options: [(String, String)] = []
    var subcommands: [Subcommand] = []
    var footer: String?

    /// The page for the positional words given before `--help` (the subcommand they name, if any).
    func render(words: [String]) -> String {
        let sub = subcommands.filter { words.starts(with: $0.words) || (words.first == $0.words.first && !words.isEmpty) }
            .max { $0.words.count < $1.words.count }
        if let sub {
            var text = "usage: \(sub.usage)\n\n\(sub.summary)"
            let options = sub.options + self.options
            if !options.isEmpty { text += "\n\n" + Help.optionList("options:", options) }
            return text
        }
        var text = "usage: \(usage)\n\n\(summary)"
        if !subcommands.isEmpty {
            text += "\n\n" + Help.optionList("commands:", subcommands.map { ($0.usage.split(separator: " ").dropFirst(2).joined(separator: " "), $0.summary) })
            text += "\n\n`\(usage.split(separator: " ").prefix(2).joined(separator: " ")) COMMAND --help` lists a command's options."
        }
        if !options.isEmpty { text += "\n\n" + Help.optionList("options:", options) }
        if let footer { text += "\n\n" + footer }
        return text
    }
}

enum Help {
    /// Options as two aligned columns under a heading.
    static func optionList(_ heading: String, _ options: [(String, String)]) -> String {
        var lines = [heading]
        let width = min(40, (options.map(\.0.count).max() ?? 0) + 2)
        for (flag, meaning) in options {
            if flag.count + 2 > width {
                lines.append("  " + flag)
                lines.append("  " + String(repeating: " ", count: width) + meaning)
            } else {
                lines.append("  " + flag.padding(toLength: width, withPad: " ", startingAt: 0) + meaning)
            }
        }
        return lines.joined(separator: "\n")
    }

    /// Whether argv asks for help: `--help` or `-h` before any `--`.
    static func isRequested(_ argv: [String]) -> Bool {
        for a in argv {
            if a == "--" { return false }
            if a == "--help" || a == "-h" || a == "--help=true" { return true }
        }
        return false
    }

    /// The positional words before `--help` (the subcommand path), skipping options and their values.
    static func words(_ argv: [String]) -> [String] {
        var out: [String] = []
        for a in argv {
            if a == "--" || a == "--help" || a == "-h" { break }
            if a.hasPrefix("-") { break }
            out.append(a)
        }
        return out
    }
}
