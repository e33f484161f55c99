import FoundationEssentials
import NIOHTTP1
import PrefectWorkerCore

extension HTTPPrefectAPI {
    public func isHealthy() async -> Bool {
        (try? await send(.GET, "/health", policy: RetryPolicy(maxRetries: 0))) != nil
    }

    public func readWorkPool(named name: String, retry policy: RetryPolicy) async throws -> WorkPool? {
        let path = "/work_pools/\(Self.escape(name))"
        let answer = try await send(.GET, path, accepting: [404], policy: policy)
        if answer.status == 404 { return nil }
        return try decode(WorkPool.self, answer, route: "GET \(path)")
    }

    public func createWorkPool(named name: String, type: String, baseJobTemplate: JSONValue) async throws -> WorkPool {
        let body: JSONValue = ["name": .string(name), "type": .string(type), "base_job_template": baseJobTemplate]
        let answer = try await send(.POST, "/work_pools/", json: try Self.encode(body), accepting: [409])
        if answer.status == 409, let existing = try await readWorkPool(named: name, retry: retry) {
            return existing
        }
        return try decode(WorkPool.self, answer, route: "POST /work_pools/")
    }

    public func updateBaseJobTemplate(pool: String, template: JSONValue) async throws {
        let body: JSONValue = ["base_job_template": template]
        _ = try await send(.PATCH, "/work_pools/\(Self.escape(pool))", json: try Self.encode(body))
    }

    public func sendHeartbeat(pool: String, worker: String, intervalSeconds: Int, retry policy: RetryPolicy) async throws {
        let body: JSONValue = ["name": .string(worker), "heartbeat_interval_seconds": .number(Double(intervalSeconds))]
        _ = try await send(.POST, "/work_pools/\(Self.escape(pool))/workers/heartbeat", json: try Self.encode(body), policy: policy)
    }

    public func scheduledFlowRuns(
        pool: String, queues: [String], scheduledBefore: Date, limit: Int?, retry policy: RetryPolicy
    ) async throws
        -> [ScheduledFlowRun]
    {
        var body: [String: JSONValue] = [
            "work_queue_names": .array(queues.map { .string($0) }),
            "scheduled_before": .string(Self.timestamp(scheduledBefore)),
        ]
        if let limit { body["limit"] = .number(Double(limit)) }
        let path = "/work_pools/\(Self.escape(pool))/get_scheduled_flow_runs"
        let answer = try await send(.POST, path, json: try Self.encode(.object(body)), policy: policy)
        return try decode([ScheduledFlowRun].self, answer, route: "POST \(path)")
    }

    public func setState(flowRunId: String, proposal: StateProposal, transitionId: String, unanswered: UnansweredAttempt?)
        async throws -> OrchestrationResult
    {
        try await setState(flowRunId: flowRunId, proposal: proposal, transitionId: transitionId, policy: nil, unanswered: unanswered)
    }

    public func setStateOnce(flowRunId: String, proposal: StateProposal, transitionId: String, unanswered: UnansweredAttempt?)
        async throws -> OrchestrationResult
    {
        try await setState(
            flowRunId: flowRunId, proposal: proposal, transitionId: transitionId, policy: RetryPolicy(maxRetries: 0), unanswered: unanswered)
    }

    private func setState(
        flowRunId: String, proposal: StateProposal, transitionId: String, policy: RetryPolicy?, unanswered: UnansweredAttempt?
    ) async throws -> OrchestrationResult {
        var details: [String: JSONValue] = ["transition_id": .string(transitionId)]
        if let scheduledTime = proposal.scheduledTime { details["scheduled_time"] = .string(Self.timestamp(scheduledTime)) }
        var state: [String: JSONValue] = [
            "type": .string(proposal.type.rawValue),
            "name": .string(proposal.name),
            "message": proposal.message.map { .string($0) } ?? .null,
            "state_details": .object(details),
        ]
        if let data = proposal.data { state["data"] = data }
        let body: JSONValue = ["state": .object(state), "force": .bool(proposal.force)]
        let path = "/flow_runs/\(flowRunId)/set_state"
        let answer = try await send(.POST, path, json: try Self.encode(body), policy: policy, unanswered: unanswered)
        return try decode(OrchestrationResult.self, answer, route: "POST \(path)")
    }

    public func readFlowRun(id: String) async throws -> FlowRun {
        let path = "/flow_runs/\(id)"
        return try decode(FlowRun.self, try await send(.GET, path), route: "GET \(path)")
    }

    public func readFlowRuns(ids: [String]) async throws -> [FlowRun] {
        try await filter([FlowRun].self, "/flow_runs/filter", ["flow_runs": ["id": ["any_": .array(ids.map { .string($0) })]]], count: ids.count)
    }

    public func readDeployments(ids: [String]) async throws -> [Deployment] {
        try await filter(
            [Deployment].self, "/deployments/filter", ["deployments": ["id": ["any_": .array(ids.map { .string($0) })]]], count: ids.count)
    }

    /// `POST {path}` with `criteria` and a limit of `count`.
    private func filter<T: Decodable>(
        _ type: T.Type, _ path: String, _ criteria: [String: JSONValue], count: Int, policy: RetryPolicy? = nil
    ) async throws -> T {
        var body = criteria
        body["limit"] = .number(Double(max(count, 1)))
        return try decode(type, try await send(.POST, path, json: try Self.encode(.object(body)), policy: policy), route: "POST \(path)")
    }

    public func readFlow(id: String) async throws -> Flow? {
        let path = "/flows/\(id)"
        let answer = try await send(.GET, path, accepting: [404])
        if answer.status == 404 { return nil }
        return try decode(Flow.self, answer, route: "GET \(path)")
    }

    public func readBlockDocument(typeSlug: String, name: String) async throws -> BlockDocument? {
        let path = "/block_types/slug/\(Self.escape(typeSlug))/block_documents/name/\(Self.escape(name))?include_secrets=true"
        return try await readOptional(BlockDocument.self, path: path)
    }

    public func readBlockDocument(id: String) async throws -> BlockDocument? {
        try await readOptional(BlockDocument.self, path: "/block_documents/\(Self.escape(id))?include_secrets=true")
    }

    public func readVariable(named name: String) async throws -> Variable? {
        try await readOptional(Variable.self, path: "/variables/name/\(Self.escape(name))")
    }

    /// A GET whose 404 means "there is none".
    private func readOptional<T: Decodable>(_ type: T.Type, path: String) async throws -> T? {
        let answer = try await send(.GET, path, accepting: [404])
        if answer.status == 404 { return nil }
        return try decode(T.self, answer, route: APIRoute.template(method: "GET", path: path))
    }

    public func stateHistory(flowRunId: String) async throws -> [JSONValue] {
        let path = "/flow_run_states/?flow_run_id=\(flowRunId)"
        return try decode([JSONValue].self, try await send(.GET, path), route: "GET /flow_run_states/")
    }

    public func cancellingFlowRuns(ids: [String], retry policy: RetryPolicy) async throws -> [FlowRun] {
        let criteria: [String: JSONValue] = [
            "flow_runs": ["id": ["any_": .array(ids.map { .string($0) })], "state": ["type": ["any_": ["CANCELLING"]]]]
        ]
        return try await filter([FlowRun].self, "/flow_runs/filter", criteria, count: ids.count, policy: policy)
    }

    public func setInfrastructurePid(flowRunId: String, pid: Int32) async throws {
        let body: JSONValue = ["infrastructure_pid": .string(String(pid))]
        _ = try await send(.PATCH, "/flow_runs/\(flowRunId)", json: try Self.encode(body))
    }

    public func addFlowRunLabels(flowRunId: String, labels: [String: String], retry policy: RetryPolicy) async throws {
        let body = JSONValue.object(labels.mapValues { .string($0) })
        _ = try await send(.PATCH, "/flow_runs/\(flowRunId)/labels", json: try Self.encode(body), policy: policy)
    }

    public func sendLogs(_ logs: [FlowRunLog]) async throws {
        let body = JSONValue.array(logs.map { log in
            [
                "name": .string(log.name), "level": .number(Double(log.level)), "message": .string(log.message),
                "timestamp": .string(Self.timestamp(log.timestamp)), "flow_run_id": .string(log.flowRunId),
                "task_run_id": .null,
            ]
        })
        // One retry: the shipper keeps what was not taken and tries again on its next round.
        _ = try await send(.POST, "/logs/", json: try Self.encode(body), policy: RetryPolicy(maxRetries: 1))
    }

    public func emitEvents(_ events: [JSONValue]) async throws {
        // Retried while the server is busy or away (the emitter bounds how many wait); a 4xx is final.
        _ = try await send(.POST, "/events", json: try Self.encode(.array(events)), policy: RetryPolicy(maxDelay: 30, maxRetries: nil))
    }

    // MARK: - Helpers

    static func encode(_ value: JSONValue) throws -> Data {
        try JSONEncoder().encode(value)
    }

    static func escape(_ segment: String) -> String {
        PercentEncoding.pathSegment(segment)
    }

    static func timestamp(_ date: Date) -> String {
        RFC3339.format(date)
    }
}
