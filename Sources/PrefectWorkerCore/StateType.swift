/// Prefect's state types (docs/prefect-worker-protocol.md, conventions).
public enum StateType: String, Codable, Sendable, CaseIterable {
    case scheduled = "SCHEDULED"
    case pending = "PENDING"
    case running = "RUNNING"
    case completed = "COMPLETED"
    case failed = "FAILED"
    case cancelled = "CANCELLED"
    case crashed = "CRASHED"
    case paused = "PAUSED"
    case cancelling = "CANCELLING"

    public var isTerminal: Bool {
        switch self {
        case .completed, .failed, .cancelled, .crashed: return true
        case .scheduled, .pending, .running, .paused, .cancelling: return false
        }
    }

    /// The state name Prefect gives a state of this type when none is set ("Cancelled").
    public var defaultName: String {
        rawValue.prefix(1) + rawValue.dropFirst().lowercased()
    }
}
