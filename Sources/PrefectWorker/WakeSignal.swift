import PrefectWorkerCore
import Synchronization

/// Lets one loop sleep until its interval ends or someone has news for it, whichever is first.
/// A wake-up that comes while the loop is busy is kept (many as one), so none is lost between waits.
final class WakeSignal: Sendable {
    private struct State {
        var pending = false
        var waiter: (wait: UInt64, continuation: CheckedContinuation<Void, Never>)?
        var waits: UInt64 = 0
        /// The wait whose time ran out before it started waiting.
        var expired: UInt64 = 0
    }

    private let state = Mutex(State())
    private let clock: any WorkerClock

    init(clock: any WorkerClock) {
        self.clock = clock
    }

    /// Wakes the waiting loop now, or makes its next wait return at once.
    func fire() {
        let continuation: CheckedContinuation<Void, Never>? = state.withLock { state in
            guard let waiter = state.waiter else {
                state.pending = true
                return nil
            }
            state.waiter = nil
            return waiter.continuation
        }
        continuation?.resume()
    }

    /// Returns after `seconds`, at a `fire()`, or when the task is cancelled.
    func wait(upTo seconds: Double) async {
        let wait: UInt64 = state.withLock { state in
            state.waits += 1
            return state.waits
        }
        let timer = clock.schedule(after: .seconds(min(max(0, seconds), 365 * 86_400))) { [weak self] in self?.end(wait) }
        defer { timer.cancel() }
        await withTaskCancellationHandler {
            await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
                let now: Bool = state.withLock { state in
                    if state.pending || state.expired == wait || Task.isCancelled {
                        state.pending = false
                        return true
                    }
                    state.waiter = (wait, continuation)
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
        let continuation: CheckedContinuation<Void, Never>? = state.withLock { state in
            guard let waiter = state.waiter, waiter.wait == wait else {
                state.expired = wait
                return nil
            }
            state.waiter = nil
            return waiter.continuation
        }
        continuation?.resume()
    }
}
