/// Every message Trainyard's tasks exchange. One-byte tags; payloads in Docs/wire-protocol.md.
///
/// Requests: `hello`, `proof`, `initialize`, `pull`, `push`, `status`, `shutdown`.
/// Replies: `challenge`, `helloReply`, `ack`, `pullReply`, `pushReply`, `statusReply`, `error`.
public enum Message: Sendable, Equatable {
    /// First message on every connection: names the task connecting (the token stays home).
    case hello(Hello)
    /// The server's answer to `hello`: a fresh random nonce the client must sign.
    case challenge(nonce: [UInt8])
    /// The client's answer to `challenge`: HMAC-SHA-256 under its task's key (`HelloGate.proof`).
    case proof(mac: [UInt8])
    /// The server's answer to `hello`: who it is and where training stands.
    case helloReply(Status)
    /// Chief → ps: set the shard's values (fresh or restored) under a new cluster incarnation.
    case initialize(Initialize)
    /// A request succeeded; carries the global step the server has reached.
    case ack(globalStep: Int64)
    /// Worker → ps: send me your shard's current values.
    case pull(Pull)
    case pullReply(Parameters)
    /// Worker → ps: apply these gradients to your shard.
    case push(Push)
    case pushReply(PushReply)
    /// Anyone → any task: are you alive, and what do you know?
    case status
    case statusReply(Status)
    /// Chief → every task: the job is over, exit cleanly.
    case shutdown(reason: String)
    /// A request failed; `code` says how the client should react.
    case error(WireError)

    public var tag: UInt8 {
        switch self {
        case .hello: return 1
        case .helloReply: return 2
        case .initialize: return 3
        case .ack: return 4
        case .pull: return 5
        case .pullReply: return 6
        case .push: return 7
        case .pushReply: return 8
        case .status: return 9
        case .statusReply: return 10
        case .shutdown: return 11
        case .error: return 12
        case .challenge: return 13
        case .proof: return 14
        }
    }

    /// A short name for logs and errors.
    public var name: String {
        switch self {
        case .hello: return "hello"
        case .helloReply: return "helloReply"
        case .initialize: return "initialize"
        case .ack: return "ack"
        case .pull: return "pull"
        case .pullReply: return "pullReply"
        case .push: return "push"
        case .pushReply: return "pushReply"
        case .status: return "status"
        case .statusReply: return "statusReply"
        case .shutdown: return "shutdown"
        case .error: return "error"
        case .challenge: return "challenge"
        case .proof: return "proof"
        }
    }
}

public struct Hello: Sendable, Equatable {
    /// The per-job secret the launcher gives every task (`TRAINYARD_JOB_TOKEN`). Never sent: the
    /// client answers the server's `challenge` with a `proof` made from it (empty once decoded).
    public var token: String
    /// Who is connecting.
    public var task: TaskID
    public init(token: String, task: TaskID) {
        self.token = token
        self.task = task
    }
}

/// What a task reports about itself in `helloReply` and `statusReply`.
public struct Status: Sendable, Equatable {
    public var task: TaskID
    /// For a ps: whether the chief has set its variables under the current incarnation.
    public var initialized: Bool
    public var incarnation: UInt32
    public var globalStep: Int64
    /// The job has reached its last step: stop training.
    public var done: Bool
    /// For a ps: how many Float values its shard holds (checked against the client's model).
    public var shardElements: Int

    public init(task: TaskID, initialized: Bool, incarnation: UInt32, globalStep: Int64, done: Bool, shardElements: Int) {
        self.task = task
        self.initialized = initialized
        self.incarnation = incarnation
        self.globalStep = globalStep
        self.done = done
        self.shardElements = shardElements
    }
}

public struct Initialize: Sendable, Equatable {
    /// The cluster incarnation the values belong to; the ps rejects messages of any other.
    public var incarnation: UInt32
    public var globalStep: Int64
    /// The step at which the ps reports `done` and stops applying updates.
    public var maxSteps: Int64
    public var values: [Float]
    /// Optimizer state (momentum, Adam moments), each as long as `values`; empty = start at zero.
    public var slots: [[Float]]
    /// The ps keeps a snapshot of its shard (values and slots) each time its global step reaches a
    /// multiple of one of these (the chief's `--checkpoint-every` and `--eval-every`), so that
    /// checkpoints and evaluations are of exactly that step however late the chief asks.
    public var snapshotEvery: [Int64]
    /// The chief's `--checkpoint-every` (0: none). Asynchronous training does not run past a
    /// multiple of it until the chief has collected that step's snapshot (a pull of it with
    /// slots): pushes meanwhile get `checkpoint-pending`. So the global step is never more than
    /// this far past the newest checkpoint.
    public var checkpointEvery: Int64

    public init(incarnation: UInt32, globalStep: Int64, maxSteps: Int64, values: [Float], slots: [[Float]] = [], snapshotEvery: [Int64] = [],
                checkpointEvery: Int64 = 0) {
        self.incarnation = incarnation
        self.globalStep = globalStep
        self.maxSteps = maxSteps
        self.values = values
        self.slots = slots
        self.snapshotEvery = snapshotEvery
        self.checkpointEvery = checkpointEvery
    }
}

public struct Pull: Sendable, Equatable {
    /// Also send the optimizer slots (for checkpoints).
    public var includeSlots: Bool
    /// Send the snapshot the ps took when its global step reached this step, instead of the
    /// current values (nil); the ps answers `no-snapshot` when it holds none of that step.
    public var snapshotStep: Int64?
    public init(includeSlots: Bool = false, snapshotStep: Int64? = nil) {
        self.includeSlots = includeSlots
        self.snapshotStep = snapshotStep
    }
}

public struct Parameters: Sendable, Equatable {
    public var globalStep: Int64
    public var done: Bool
    public var values: [Float]
    public var slots: [[Float]]
    public init(globalStep: Int64, done: Bool, values: [Float], slots: [[Float]] = []) {
        self.globalStep = globalStep
        self.done = done
        self.values = values
        self.slots = slots
    }
}

public struct Push: Sendable, Equatable {
    /// The global step of the values the gradients were computed from (sync mode drops stale ones).
    public var baseStep: Int64
    public var gradients: [Float]
    /// Answer with the shard's values after the update, saving the next pull's round trip.
    public var returnValues: Bool
    /// Not on the wire: the receiver checked every gradient finite as it copied them in (out of a
    /// shared region), so the ps need not scan them again. Not part of equality.
    public var gradientsKnownFinite = false
    /// Not on the wire: the gradients left where they arrived, in the sender's shared region
    /// (`gradients` is then empty), for a receiver that reads each once as it applies them.
    public var lent: LentFloats?
    public init(baseStep: Int64, gradients: [Float], returnValues: Bool = false) {
        self.baseStep = baseStep
        self.gradients = gradients
        self.returnValues = returnValues
    }

    /// How many gradients the push carries, lent or in `gradients`.
    public var gradientCount: Int { lent?.count ?? gradients.count }

    public static func == (a: Push, b: Push) -> Bool {
        a.baseStep == b.baseStep && a.gradients == b.gradients && a.returnValues == b.returnValues && a.lent == b.lent
    }
}

/// Floats another process wrote into shared memory, not copied out: valid only until the
/// connection that received them reads or sends its next frame, and the writer may still change
/// them, so whoever uses them reads each value exactly once (what it checks is what it uses).
public struct LentFloats: @unchecked Sendable, Equatable {
    public let base: UnsafeRawPointer
    public let count: Int
    public init(base: UnsafeRawPointer, count: Int) {
        self.base = base
        self.count = count
    }
}

public struct PushReply: Sendable, Equatable {
    public var globalStep: Int64
    /// False when the gradients were not used (stale in sync mode, or the job is done).
    public var applied: Bool
    public var done: Bool
    /// The shard's values after the update, when the push asked for them (else empty).
    public var values: [Float]
    public init(globalStep: Int64, applied: Bool, done: Bool, values: [Float] = []) {
        self.globalStep = globalStep
        self.applied = applied
        self.done = done
        self.values = values
    }
}

/// A failed request. The code tells the client what to do next.
public struct WireError: Error, Sendable, Equatable, CustomStringConvertible {
    public struct Code: RawRepresentable, Sendable, Equatable, Hashable, CustomStringConvertible {
        public var rawValue: UInt16
        public init(rawValue: UInt16) { self.rawValue = rawValue }

        /// The hello's token is not this job's: the connection is closed.
        public static let badToken = Code(rawValue: 1)
        /// The message carries an old cluster incarnation: re-hello and pull again.
        public static let staleIncarnation = Code(rawValue: 2)
        /// The ps has no values yet: wait for the chief.
        public static let notInitialized = Code(rawValue: 3)
        /// The request did not make sense (bad payload, wrong size): a bug or a mismatched job.
        public static let badRequest = Code(rawValue: 4)
        /// The first message was not a hello.
        public static let helloRequired = Code(rawValue: 5)
        /// The server could not answer before the request's deadline.
        public static let deadlineExceeded = Code(rawValue: 6)
        /// The job is shutting down.
        public static let shuttingDown = Code(rawValue: 7)
        /// A pull asked for a snapshot the ps does not hold: its step is not reached yet, or newer
        /// snapshots replaced it. Ask again later, or for a newer step.
        public static let noSnapshot = Code(rawValue: 8)
        /// A push reached a multiple of `--checkpoint-every` whose snapshot the chief has not
        /// collected yet: not applied. Pull again shortly (the chief: collect the checkpoint).
        public static let checkpointPending = Code(rawValue: 9)
        /// A push reached a step a failure scenario holds the cluster at until its fault fires
        /// (exact step triggers): not applied. Pull again shortly.
        public static let held = Code(rawValue: 10)
        /// The hello named a task that is not in this job's cluster (TF_CONFIG): the connection
        /// is closed. A hello binds its connection to one task of the cluster.
        public static let unknownTask = Code(rawValue: 11)
        /// A push carried NaN or infinite gradients: not applied (the shard is unchanged). The
        /// sender's model has diverged; lower the learning rate or check the data.
        public static let nonFiniteGradients = Code(rawValue: 12)

        public var description: String {
            switch self {
            case .badToken: return "bad-token"
            case .staleIncarnation: return "stale-incarnation"
            case .notInitialized: return "not-initialized"
            case .badRequest: return "bad-request"
            case .helloRequired: return "hello-required"
            case .deadlineExceeded: return "deadline-exceeded"
            case .shuttingDown: return "shutting-down"
            case .noSnapshot: return "no-snapshot"
            case .checkpointPending: return "checkpoint-pending"
            case .held: return "held"
            case .unknownTask: return "unknown-task"
            case .nonFiniteGradients: return "non-finite-gradients"
            default: return "error-\(rawValue)"
            }
        }
    }

    public var code: Code
    public var message: String
    public init(_ code: Code, _ message: String) {
        self.code = code
        self.message = message
    }
    public var description: String { "\(code): \(message)" }
}
