/// The process exit codes Trainyard promises (Docs/cli.md lists them). Stable: scripts rely on them.
public struct ExitCode: Sendable, Equatable, Hashable, CustomStringConvertible {
    public var rawValue: Int32
    public init(_ rawValue: Int32) { self.rawValue = rawValue }

    /// The job or command succeeded.
    public static let success = ExitCode(0)
    /// The job ran and failed (a task failed, an expectation did not hold).
    public static let failure = ExitCode(1)
    /// The command line is wrong: unknown flag, missing or malformed value.
    public static let usage = ExitCode(2)
    /// An input file or setting is invalid: TF_CONFIG, tier, scenario, data set, checkpoint.
    public static let invalidInput = ExitCode(3)
    /// The system refused: a port in use, a file that cannot be written, a process that cannot start.
    public static let systemError = ExitCode(4)
    /// Another peer in the cluster broke the protocol or could not be reached in time.
    public static let clusterError = ExitCode(5)
    /// A role found that the job cannot succeed, and no restart would change that: its final
    /// checkpoint or model could not be written and read back, or training diverged (a loss or
    /// gradient that is not finite). Permanent under every restart policy, like `invalidInput`.
    public static let jobFailed = ExitCode(6)
    /// Stopped by SIGINT or SIGTERM before finishing (128 + SIGINT, as shells report it).
    public static let interrupted = ExitCode(130)

    public var description: String { String(rawValue) }
}

/// An error a person will read: says what is wrong and carries the exit code to leave with.
public protocol TrainyardError: Error, CustomStringConvertible, Sendable {
    var exitCode: ExitCode { get }
}

/// A value in a file, variable or command line that is not acceptable, named by its path
/// (`cluster.worker[1]`, `faults[0].at_step`, `--workers`).
public struct FieldError: TrainyardError, Equatable {
    /// Where the bad value came from: a file name, `TF_CONFIG`, or empty.
    public var source: String
    /// The dotted path of the field inside its source.
    public var path: String
    public var message: String
    public var exitCode: ExitCode

    public init(source: String = "", path: String, _ message: String, exitCode: ExitCode = .invalidInput) {
        self.source = source
        self.path = path
        self.message = message
        self.exitCode = exitCode
    }

    public var description: String {
        let location = [source, path].filter { !$0.isEmpty }.joined(separator: ": ")
        return location.isEmpty ? message : "\(location): \(message)"
    }

    /// The same error, attributed to `source`.
    public func from(_ source: String) -> FieldError {
        var copy = self
        copy.source = source
        return copy
    }
}

/// A command-line mistake: exits with `ExitCode.usage`.
public struct UsageError: TrainyardError, Equatable {
    public var message: String
    public init(_ message: String) { self.message = message }
    public var exitCode: ExitCode { .usage }
    public var description: String { message }
}

/// A failure with a plain message and an explicit exit code.
public struct RuntimeFailure: TrainyardError {
    public var message: String
    public var exitCode: ExitCode
    public init(_ message: String, exitCode: ExitCode = .failure) {
        self.message = message
        self.exitCode = exitCode
    }
    public var description: String { message }
}
