import Foundation
import PrefectAPI

/// Lets one loop sleep until its interval ends or someone has news for it, whichever is first.
/// A wake-up that comes while the loop is busy is kept (many as one), so none is lost between waits.
final class WakeSignal: @unchecked Sendable {
    private let lock = NSLock()
    private var pending = false
    private var waiter: (wait: UInt64, continuation: CheckedContinuation<Void, Never>)?
    private var waits: UInt64 = 0
    /// The wait whose time ran out before it started waiting.
    private var expired: UInt64 = 0

    /// Wakes the waiting loop now, or makes its next wait return at once.
    func fire() {
        let continuation: CheckedContinuation<Void, Never>? = lock.withLock {
            guard let waiter else {
                pending = true
                return nil
            }
            self.waiter = nil
            return waiter.continuation
        }
        continuation?.resume()
    }

    /// Returns after `seconds`, at a `fire()`, or when the task is cancelled.
    func wait(upTo seconds: Double) async {
        let wait: UInt64 = lock.withLock {
            waits += 1
            return waits
        }
        let timer = EventLoopTimer(seconds: min(seconds, 365 * 86_400)) { [weak self] in self?.end(wait) }
        defer { timer.cancel() }
        await withTaskCancellationHandler {
            await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
                let now: Bool = lock.withLock {
                    if pending || expired == wait || Task.isCancelled {
                        pending = false
                        return true
                    }
                    waiter = (wait, continuation)
                    return false
                }
                if now { continuation.resume() }
            }
        } onCancel: {
            self.end(wait)
        }
    }

    /// Ends one wait without a wake-up: its time is up, or its task was cancelled.
    private func end(_ wait: UInt64) {
        let continuation: CheckedContinuation<Void, Never>? = lock.withLock {
            guard let waiter, waiter.wait == wait else {
                expired = wait
                return nil
            }
            self.waiter = nil
            return waiter.continuation
        }
        continuation?.resume()
    }
}
