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
