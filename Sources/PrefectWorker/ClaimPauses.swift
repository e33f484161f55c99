import Foundation
import PrefectWorkerCore
import Synchronization

/// The worker's `ClaimBackoff`, shared by the executors (which record refused claims) and the poll
/// loop (which skips paused runs and asks for as many more).
final class ClaimPauses: Sendable {
    private let backoff = Mutex(ClaimBackoff())

    /// Returns the pause in seconds.
    @discardableResult
    func refused(_ flowRunId: String, serverDelay: Double? = nil, now: Date = Date()) -> Double {
        backoff.withLock { $0.refused(flowRunId, now: now, serverDelay: serverDelay) }
    }

    func forget(_ flowRunId: String) {
        backoff.withLock { $0.forget(flowRunId) }
    }

    func isPaused(_ flowRunId: String, now: Date = Date()) -> Bool {
        backoff.withLock { $0.isPaused(flowRunId, now: now) }
    }

    func pausedCount(now: Date = Date()) -> Int {
        backoff.withLock { $0.pausedCount(now: now) }
    }
}
