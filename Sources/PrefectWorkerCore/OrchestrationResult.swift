/// The server's answer to `POST /flow_runs/{id}/set_state`.
public struct OrchestrationResult: Codable, Sendable, Equatable {
    public enum Status: String, Codable, Sendable {
        case accept = "ACCEPT"
        case reject = "REJECT"
        case abort = "ABORT"
        case wait = "WAIT"
    }

    public struct Details: Codable, Sendable, Equatable {
        public var reason: String?
        public var delaySeconds: Double?

        enum CodingKeys: String, CodingKey {
            case reason
            case delaySeconds = "delay_seconds"
        }

        public init(reason: String? = nil, delaySeconds: Double? = nil) {
            self.reason = reason
            self.delaySeconds = delaySeconds
        }
    }

    public var status: Status
    public var state: StateSnapshot?
    public var details: Details?

    public init(status: Status, state: StateSnapshot? = nil, details: Details? = nil) {
        self.status = status
        self.state = state
        self.details = details
    }
}

extension OrchestrationResult {
    /// The answer as it concerns a proposal sent with `transitionId`, possibly more than once: when
    /// an earlier attempt landed and only its answer was lost, the server's duplicate-transition
    /// rule rejects the resent one ("This run has already made this state transition.") and
    /// answers with the run's state, which is the one that attempt set (same transition id). That
    /// is an acceptance; taking it for a refusal leaves a run RUNNING that nobody runs.
    public func landed(transitionId: String) -> OrchestrationResult {
        guard status == .reject, let state, state.stateDetails?.transitionId == transitionId else { return self }
        return OrchestrationResult(status: .accept, state: state, details: details)
    }
}

/// A proposal that hands a run on (a forced SCHEDULED, or a forced restore of a state that is not
/// final) is never re-sent blindly once an attempt went unanswered (README, "Exactly once"). The
/// attempt may have landed: then another worker can claim the run and start it, and a resent
/// proposal, carrying the same transition id but forced, would take the run from under it and
/// give it to a third (the chaos test saw a run executed twice that way). So the worker waits until
/// the attempt can no longer land and reads the run's history: the proposal is sent again only if
/// no state of it carries the transition id.
public enum HandingOnProposal {
    /// Whether `proposal` is one that must be read back before it is sent again.
    public static func readsBackBeforeRetrying(_ proposal: StateProposal) -> Bool {
        proposal.force && !proposal.type.isTerminal
    }

    /// Whether an attempt sent with `transitionId` landed, from the run's history
    /// (`GET /flow_run_states/?flow_run_id=`).
    public static func landed(_ transitionId: String, in history: [JSONValue]) -> Bool {
        history.contains { $0["state_details"]?["transition_id"]?.stringValue == transitionId }
    }
}
