import FoundationEssentials

/// A state the worker will propose for a run.
public struct StateProposal: Equatable, Sendable {
    public var type: StateType
    public var name: String
    public var message: String?
    public var force: Bool
    /// `state_details.scheduled_time`, for a SCHEDULED proposal.
    public var scheduledTime: Date?
    /// The state's `data` (a result reference), when a state is restored as it was.
    public var data: JSONValue?

    public init(type: StateType, name: String? = nil, message: String? = nil, force: Bool = false) {
        self.type = type
        self.name = name ?? type.defaultName
        self.message = message
        self.force = force
    }

    /// The claim: type PENDING named "Pending", the only name the server's race guard protects.
    public static let claim = StateProposal(type: .pending, name: "Pending")
}
