import Foundation
import PrefectWorkerCore

/// The worker's `ClaimBackoff`, shared by the executors (which record refused claims) and the poll
/// loop (which skips paused runs and asks for as many more).
final class ClaimPauses: @unchecked Sendable {
    private let lock = NSLock()
    private var backoff = ClaimBackoff()

    /// Returns the pause in seconds.
    @discardableResult
    func refused(_ flowRunId: String, serverDelay: Double? = nil, now: Date = Date()) -> Double {
        lock.withLock { backoff.refused(flowRunId, now: now, serverDelay: serverDelay) }
    }

    func forget(_ flowRunId: String) {
        lock.withLock { backoff.forget(flowRunId) }
    }

    func isPaused(_ flowRunId: String, now: Date = Date()) -> Bool {
        lock.withLock { backoff.isPaused(flowRunId, now: now) }
    }

    func pausedCount(now: Date = Date()) -> Int {
        lock.withLock { backoff.pausedCount(now: now) }
    }
}
