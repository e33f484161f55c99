import FoundationEssentials

/// A flow run as the worker needs it. Decoding ignores every field not listed here, so newer
/// servers with more fields still decode.
public struct FlowRun: Codable, Sendable, Equatable {
    public var id: String
    public var name: String
    public var flowId: String
    public var deploymentId: String?
    public var stateType: StateType?
    public var stateName: String?
    public var state: StateSnapshot?
    public var jobVariables: [String: JSONValue]?
    public var infrastructurePid: String?
    public var workQueueName: String?
    public var workPoolName: String?
    /// When a SCHEDULED run is due (the poll orders by it).
    public var nextScheduledStartTime: String?
    public var tags: [String]?

    enum CodingKeys: String, CodingKey {
        case id, name, state, tags
        case nextScheduledStartTime = "next_scheduled_start_time"
        case flowId = "flow_id"
        case deploymentId = "deployment_id"
        case stateType = "state_type"
        case stateName = "state_name"
        case jobVariables = "job_variables"
        case infrastructurePid = "infrastructure_pid"
        case workQueueName = "work_queue_name"
        case workPoolName = "work_pool_name"
    }

    public init(
        id: String, name: String, flowId: String, deploymentId: String? = nil, stateType: StateType? = nil,
        stateName: String? = nil, jobVariables: [String: JSONValue]? = nil
    ) {
        self.id = id
        self.name = name
        self.flowId = flowId
        self.deploymentId = deploymentId
        self.stateType = stateType
        self.stateName = stateName
        self.jobVariables = jobVariables
    }

    /// The state type, from `state` when the server filled it, else from `state_type` (the poll's
    /// embedded runs have `state: null`).
    public var currentStateType: StateType? { state?.type ?? stateType }
}

/// The part of a state the worker reads back.
public struct StateSnapshot: Codable, Sendable, Equatable {
    public struct Details: Codable, Sendable, Equatable {
        public var transitionId: String?
        /// Copied by the server into a PENDING state only when it left a SCHEDULED state.
        public var scheduledTime: String?

        enum CodingKeys: String, CodingKey {
            case transitionId = "transition_id"
            case scheduledTime = "scheduled_time"
        }

        public init(transitionId: String? = nil, scheduledTime: String? = nil) {
            self.transitionId = transitionId
            self.scheduledTime = scheduledTime
        }
    }

    public var type: StateType
    public var name: String?
    public var message: String?
    public var stateDetails: Details?

    enum CodingKeys: String, CodingKey {
        case type, name, message
        case stateDetails = "state_details"
    }

    public init(
        type: StateType, name: String? = nil, message: String? = nil, transitionId: String? = nil, scheduledTime: String? = nil
    ) {
        self.type = type
        self.name = name
        self.message = message
        self.stateDetails = transitionId == nil && scheduledTime == nil
            ? nil : Details(transitionId: transitionId, scheduledTime: scheduledTime)
    }

    /// A PENDING state that the server wrote when the run left SCHEDULED (CopyScheduledTime copies
    /// the scheduled time only then). A PENDING without it was written on a run that had already
    /// finished: the server accepts PENDING after COMPLETED, FAILED and CRASHED.
    public var leftScheduled: Bool { stateDetails?.scheduledTime != nil }
}

/// One entry of `get_scheduled_flow_runs`.
public struct ScheduledFlowRun: Codable, Sendable, Equatable {
    public var workPoolId: String?
    public var workQueueId: String?
    public var flowRun: FlowRun

    enum CodingKeys: String, CodingKey {
        case workPoolId = "work_pool_id"
        case workQueueId = "work_queue_id"
        case flowRun = "flow_run"
    }

    public init(flowRun: FlowRun) { self.flowRun = flowRun }
}

public struct WorkPool: Codable, Sendable, Equatable {
    public var id: String
    public var name: String
    public var type: String
    public var baseJobTemplate: JSONValue
    public var isPaused: Bool?
    public var concurrencyLimit: Int?

    enum CodingKeys: String, CodingKey {
        case id, name, type
        case baseJobTemplate = "base_job_template"
        case isPaused = "is_paused"
        case concurrencyLimit = "concurrency_limit"
    }
}

public struct Deployment: Codable, Sendable, Equatable {
    public var id: String
    public var name: String
    public var jobVariables: [String: JSONValue]?

    enum CodingKeys: String, CodingKey {
        case id, name
        case jobVariables = "job_variables"
    }

    public init(id: String, name: String, jobVariables: [String: JSONValue]? = nil) {
        self.id = id
        self.name = name
        self.jobVariables = jobVariables
    }
}

public struct Flow: Codable, Sendable, Equatable {
    public var id: String
    public var name: String
}

/// A block document as `GET /block_documents/{id}?include_secrets=true` answers: its data holds
/// the secret values in clear, so it is never logged (SecretRedaction).
public struct BlockDocument: Codable, Sendable, Equatable {
    public var id: String
    public var data: JSONValue

    public init(id: String, data: JSONValue) {
        self.id = id
        self.data = data
    }
}

/// A Prefect variable (`GET /variables/name/{name}`); its value may be any JSON, null included.
public struct Variable: Codable, Sendable, Equatable {
    public var name: String
    public var value: JSONValue

    public init(name: String, value: JSONValue) {
        self.name = name
        self.value = value
    }

    public init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        name = try container.decode(String.self, forKey: .name)
        value = try container.decodeIfPresent(JSONValue.self, forKey: .value) ?? .null
    }
}
