/// A `host:port` address as TF_CONFIG writes it (`localhost:2222`, `10.0.0.2:2222`, `[::1]:2222`).
public struct HostPort: Hashable, Sendable, CustomStringConvertible, Comparable {
    public var host: String
    public var port: Int

    public init(host: String, port: Int) {
        self.host = host
        self.port = port
    }

    /// Parses `host:port`; the port must be 1...65535 and the host non-empty without spaces.
    /// `allowPortZero` admits `:0` (let the system choose), used only for local binding.
    public init(parsing text: String, allowPortZero: Bool = false) throws(FieldError) {
        let hostPart: Substring
        let portPart: Substring
        if text.hasPrefix("[") {
            guard let close = text.firstIndex(of: "]"), text[text.index(after: close)...].hasPrefix(":") else {
                throw FieldError(path: "", "\"\(text)\" is not host:port")
            }
            hostPart = text[text.index(after: text.startIndex)..<close]
            portPart = text[text.index(close, offsetBy: 2)...]
        } else {
            guard let colon = text.lastIndex(of: ":") else {
                throw FieldError(path: "", "\"\(text)\" is not host:port (no port)")
            }
            hostPart = text[..<colon]
            portPart = text[text.index(after: colon)...]
            if hostPart.contains(":") { throw FieldError(path: "", "\"\(text)\" is not host:port (write IPv6 hosts as [addr]:port)") }
        }
        // A name or IPv4 address: ASCII letters, digits, `-`, `.`, `_`. Inside brackets, an IPv6
        // address (with `:`, and `%zone`). Anything else could not be written back and read again.
        let bracketed = text.hasPrefix("[")
        let allowed = { (c: Character) -> Bool in
            c.isASCII && (c.isLetter || c.isNumber || c == "-" || c == "." || c == "_" || (bracketed && (c == ":" || c == "%")))
        }
        guard !hostPart.isEmpty, hostPart.allSatisfy(allowed), !bracketed || hostPart.contains(":") else {
            throw FieldError(path: "", "\"\(text)\" is not host:port (bad host: letters, digits, -, . and _, or an IPv6 address in [brackets])")
        }
        guard let port = Int(portPart), (allowPortZero ? 0 : 1)...65535 ~= port else {
            throw FieldError(path: "", "\"\(text)\" is not host:port (the port must be a number in 1...65535)")
        }
        self.host = String(hostPart)
        self.port = port
    }

    public var description: String { host.contains(":") ? "[\(host)]:\(port)" : "\(host):\(port)" }

    public static func < (lhs: HostPort, rhs: HostPort) -> Bool { (lhs.host, lhs.port) < (rhs.host, rhs.port) }
}
