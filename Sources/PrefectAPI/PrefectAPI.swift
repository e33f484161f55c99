import FoundationEssentials
import PrefectWorkerCore

/// The calls the worker makes to a Prefect server (docs/prefect-worker-protocol.md §2.8). One protocol so the
/// orchestration depends on what it needs, not on HTTP.
public protocol PrefectAPI: Sendable {
    /// Whether the last request reached the server.
    var reachability: ServerReachability { get }
    /// `GET /health`; true when the server answers.
    func isHealthy() async -> Bool
    /// `GET /work_pools/{name}`; nil when the pool does not exist.
    func readWorkPool(named name: String, retry: RetryPolicy) async throws -> WorkPool?
    /// `POST /work_pools/`; when another worker created it first, the existing pool.
    func createWorkPool(named name: String, type: String, baseJobTemplate: JSONValue) async throws -> WorkPool
    /// `PATCH /work_pools/{name}` with a new base job template.
    func updateBaseJobTemplate(pool: String, template: JSONValue) async throws
    /// `POST /work_pools/{pool}/workers/heartbeat`, retried per `retry`.
    func sendHeartbeat(pool: String, worker: String, intervalSeconds: Int, retry: RetryPolicy) async throws
    /// `POST /work_pools/{pool}/get_scheduled_flow_runs`, retried per `retry`.
    func scheduledFlowRuns(pool: String, queues: [String], scheduledBefore: Date, limit: Int?, retry: RetryPolicy) async throws
        -> [ScheduledFlowRun]
    /// `POST /flow_runs/{id}/set_state`, retried with the same `transitionId`; `unanswered` is
    /// called for each attempt that went unanswered (`UnansweredAttempt`).
    func setState(flowRunId: String, proposal: StateProposal, transitionId: String, unanswered: UnansweredAttempt?) async throws
        -> OrchestrationResult
    /// `POST /flow_runs/{id}/set_state` once, without retries: for the claim, which must not be
    /// re-sent blindly (PENDING is accepted again after a terminal state, so a blind retry could
    /// claim a run that another worker has already finished), and for the forced proposals that
    /// hand a run on (a resent one could take the run back from the worker that took it).
    func setStateOnce(flowRunId: String, proposal: StateProposal, transitionId: String, unanswered: UnansweredAttempt?) async throws
        -> OrchestrationResult
    /// `GET /flow_runs/{id}`.
    func readFlowRun(id: String) async throws -> FlowRun
    /// `POST /flow_runs/filter` by id: the runs of `ids` that exist (at most 200 ids).
    func readFlowRuns(ids: [String]) async throws -> [FlowRun]
    /// `POST /deployments/filter` by id: the deployments of `ids` that exist (at most 200 ids).
    func readDeployments(ids: [String]) async throws -> [Deployment]
    /// `GET /flows/{id}`; nil when it was deleted.
    func readFlow(id: String) async throws -> Flow?
    /// `GET /block_types/slug/{slug}/block_documents/name/{name}?include_secrets=true`; nil when
    /// there is no such block.
    func readBlockDocument(typeSlug: String, name: String) async throws -> BlockDocument?
    /// `GET /block_documents/{id}?include_secrets=true`; nil when there is no such document.
    func readBlockDocument(id: String) async throws -> BlockDocument?
    /// `GET /variables/name/{name}`; nil when there is no such variable.
    func readVariable(named name: String) async throws -> Variable?
    /// `GET /flow_run_states/?flow_run_id=`: the run's states, as the server keeps them.
    func stateHistory(flowRunId: String) async throws -> [JSONValue]
    /// `POST /flow_runs/filter`: which of `ids` are CANCELLING now (one request for all of them),
    /// retried per `retry`.
    func cancellingFlowRuns(ids: [String], retry: RetryPolicy) async throws -> [FlowRun]
    /// `PATCH /flow_runs/{id}` with `infrastructure_pid`.
    func setInfrastructurePid(flowRunId: String, pid: Int32) async throws
    /// `PATCH /flow_runs/{id}/labels`: merged into the run's labels (204), retried per `retry`.
    func addFlowRunLabels(flowRunId: String, labels: [String: String], retry: RetryPolicy) async throws
    /// `POST /logs/`: lines shown in the UI under their flow runs.
    func sendLogs(_ logs: [FlowRunLog]) async throws
    /// `POST /events`: events for the UI's event feed (204).
    func emitEvents(_ events: [JSONValue]) async throws
}
