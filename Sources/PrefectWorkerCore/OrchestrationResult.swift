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
