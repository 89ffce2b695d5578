/// The kinds of task a TF_CONFIG cluster may hold, in the order Trainyard lists them.
public enum TaskType: String, Sendable, CaseIterable, Comparable, CustomStringConvertible {
    case chief
    case master
    case worker
    case ps
    case evaluator

    public var description: String { rawValue }

    /// Whether this task trains: pulls, computes gradients and pushes.
    public var trains: Bool { self == .chief || self == .master || self == .worker }

    /// The chief's role, whichever name (`chief` or `master`) the cluster uses for it.
    public var isChief: Bool { self == .chief || self == .master }

    private var order: Int { TaskType.allCases.firstIndex(of: self)! }
    public static func < (lhs: TaskType, rhs: TaskType) -> Bool { lhs.order < rhs.order }
}

/// One task of a cluster: its type and index, written `worker-1` in file names and logs and
/// `worker:1` on command lines.
public struct TaskID: Hashable, Sendable, Comparable, CustomStringConvertible {
    public var type: TaskType
    public var index: Int

    public init(_ type: TaskType, _ index: Int) {
        self.type = type
        self.index = index
    }

    public static func chief(_ index: Int = 0) -> TaskID { TaskID(.chief, index) }
    public static func worker(_ index: Int) -> TaskID { TaskID(.worker, index) }
    public static func ps(_ index: Int) -> TaskID { TaskID(.ps, index) }

    /// `worker-1`: the name used for log files, metrics and scenario targets.
    public var description: String { "\(type.rawValue)-\(index)" }

    /// Parses `worker:1`, `worker-1` or `chief` (index 0).
    public init(parsing text: String) throws(FieldError) {
        let cut = text.firstIndex { $0 == ":" || $0 == "-" }
        let name = cut.map { String(text[..<$0]) } ?? text
        guard let type = TaskType(rawValue: name) else {
            throw FieldError(path: "", "\"\(text)\" is not a task (expected TYPE:INDEX with TYPE one of chief, master, worker, ps, evaluator)")
        }
        var index = 0
        if let cut {
            guard let i = Int(text[text.index(after: cut)...]), i >= 0 else {
                throw FieldError(path: "", "\"\(text)\": the task index must be a whole number ≥ 0")
            }
            index = i
        }
        self.init(type, index)
    }

    public static func < (lhs: TaskID, rhs: TaskID) -> Bool { (lhs.type, lhs.index) < (rhs.type, rhs.index) }
}
