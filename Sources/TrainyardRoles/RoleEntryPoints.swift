import TrainyardCore

/// The `main` of each role executable: thin shells over the library.
public enum RoleEntryPoints {
    public static func chief() -> Never {
        RoleMain.run(accepting: [.chief, .master]) { try TrainerRole(context: $0).run() }
    }

    public static func worker() -> Never {
        RoleMain.run(accepting: [.worker]) { try TrainerRole(context: $0).run() }
    }

    public static func parameterServer() -> Never {
        RoleMain.run(accepting: [.ps]) { try ParameterServerRole.run($0) }
    }
}
