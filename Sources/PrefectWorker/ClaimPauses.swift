import FoundationEssentials
import PrefectWorkerCore
import Synchronization

/// The worker's `ClaimBackoff`, shared by the executors (which record refused claims) and the poll
/// loop (which skips paused runs and asks for as many more).
final class ClaimPauses: Sendable {
    private let backoff = Mutex(ClaimBackoff())

    /// Returns the pause in seconds.
    @discardableResult
    func refused(
        _ flowRunId: String, deploymentId: String?, serverDelay: Double? = nil, refusal: ClaimBackoff.Refusal = .other, now: Date = Date()
    ) -> Double {
        backoff.withLock { $0.refused(flowRunId, deploymentId: deploymentId, now: now, serverDelay: serverDelay, refusal: refusal) }
    }

    /// A run of `deploymentId` ended on this worker: its waiting runs may be proposed again now.
    func slotFreed(deploymentId: String, now: Date = Date()) {
        backoff.withLock { $0.slotFreed(deploymentId: deploymentId, now: now) }
    }

    func forget(_ flowRunId: String) {
        backoff.withLock { $0.forget(flowRunId) }
    }

    func isPaused(_ flowRunId: String, now: Date = Date()) -> Bool {
        backoff.withLock { $0.isPaused(flowRunId, now: now) }
    }

    func isContended(now: Date = Date()) -> Bool {
        backoff.withLock { $0.isContended(now: now) }
    }

    func pausedCount(now: Date = Date()) -> Int {
        backoff.withLock { $0.pausedCount(now: now) }
    }
}
