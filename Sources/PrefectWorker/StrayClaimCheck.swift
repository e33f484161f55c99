import Foundation
import Logging
import PrefectAPI
import PrefectWorkerCore
import ServiceLifecycle

/// Work a run leaves for after its slot is given back (it holds no run's place, and a stopping
/// worker still waits for it, bounded).
protocol AfterSlotWork: Sendable {
    func run() async
}

extension CrashedHooks: AfterSlotWork {}

/// A claim that went unanswered and was given up (`ClaimDecision.StrayClaim`) is looked at once
/// more when it can no longer be in flight: a run it re-opened or took after all is put back as
/// it was. Its ledger entry is kept until then, so a worker that stops or dies first leaves the
/// look to its next start (README, "Restart recovery").
struct StrayClaimCheck: AfterSlotWork {
    let run: FlowRun
    let transitionId: String
    let executor: FlowRunExecutor
    let logger: Logger

    func run() async {
        let (clock, delay) = (executor.clock, executor.lateRequestSeconds)
        try? await cancelWhenGracefulShutdown { try await clock.sleep(seconds: delay) }
        guard !Task.isCancelled, !Task.isShuttingDownGracefully else { return }
        let id = run.id
        guard let current = await executor.untilAnswered("read the flow run", logger: logger, {
            try await executor.api.readFlowRun(id: id)
        }) else { return }
        switch ClaimDecision.stray(current: current.state, transitionId: transitionId) {
        case .none:
            break
        case .handBack:
            logger.warning("a claim given up reached the server late and took the run; handing it back")
            await executor.propose(ClaimDecision.strayClaimHandBack(now: Date()), for: run, logger: logger)
        case .restorePrevious:
            await executor.restoreStateBefore(claim: transitionId, of: run, logger: logger)
        }
        executor.ledger?.remove(run.id)
    }
}
