import FoundationEssentials
import Logging
import PrefectAPI
import PrefectWorkerCore
import ServiceLifecycle
import Synchronization

/// The state proposals of each run (the claim included) that had an attempt go unanswered
/// (`UnansweredAttempt`): such an attempt may reach the server late, after the worker has moved
/// the run on, and the server takes it (RUNNING after COMPLETED, PENDING after a finish).
final class StrayTransitions: Sendable {
    private let byRun = Mutex<[String: Set<String>]>([:])

    func note(_ transitionId: String, of flowRunId: String) {
        _ = byRun.withLock { $0[flowRunId, default: []].insert(transitionId) }
    }

    /// The run's stray transitions, forgotten here.
    func take(_ flowRunId: String) -> Set<String> {
        byRun.withLock { $0.removeValue(forKey: flowRunId) ?? [] }
    }
}

/// A second look at a run whose proposals had unanswered attempts, once those can no longer land
/// (`FlowRunExecutor.lateRequestSeconds`): a state one of them set after the worker had moved on
/// is undone, the state before it put back (README, "Exactly once"). For a claim given up, the
/// run's ledger entry is kept until then, so a worker that stops or dies first leaves the look to
/// its next start.
struct LateAttemptCheck: AfterSlotWork {
    let run: FlowRun
    let transitions: Set<String>
    let executor: FlowRunExecutor
    let logger: Logger

    func run() async {
        let (clock, delay) = (executor.clock, executor.lateRequestSeconds)
        try? await cancelWhenGracefulShutdown { try await clock.sleep(seconds: delay) }
        guard !Task.isCancelled, !Task.isShuttingDownGracefully else { return }
        await executor.undoLateTransition(of: run, among: transitions, logger: logger)
        await executor.ledger?.remove(run.id)
    }
}
