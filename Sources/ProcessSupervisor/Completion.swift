import PrefectWorkerCore
import Synchronization

/// Something that happens once (a pipe's end, a writer's last line), awaited without blocking a
/// thread: a task waits for it up to a time on the injected clock.
final class Completion: Sendable {
    private struct State {
        var done = false
        var waiters: [UInt64: CheckedContinuation<Bool, Never>] = [:]
        var nextWaiter: UInt64 = 0
        /// Waits whose time ran out before they started waiting.
        var expired: Set<UInt64> = []
    }

    private let state = Mutex(State())

    var isDone: Bool { state.withLock { $0.done } }

    func complete() {
        let waiters = state.withLock { state in
            state.done = true
            defer { state.waiters = [:] }
            return Array(state.waiters.values)
        }
        for waiter in waiters { waiter.resume(returning: true) }
    }

    /// True when it happened within `seconds`, false when the time ran out (or the task was cancelled) first.
    func wait(upTo seconds: Double, clock: any WorkerClock) async -> Bool {
        let id = state.withLock { state in
            state.nextWaiter += 1
            return state.nextWaiter
        }
        let timer = clock.schedule(after: .seconds(max(0, seconds))) { [weak self] in self?.giveUp(id) }
        defer { timer.cancel() }
        return await withTaskCancellationHandler {
            await withCheckedContinuation { (continuation: CheckedContinuation<Bool, Never>) in
                let now: Bool? = state.withLock { state in
                    if state.done { return true }
                    if Task.isCancelled || state.expired.remove(id) != nil { return false }
                    state.waiters[id] = continuation
                    return nil
                }
                if let now { continuation.resume(returning: now) }
            }
        } onCancel: {
            giveUp(id)
        }
    }

    private func giveUp(_ id: UInt64) {
        let waiter: CheckedContinuation<Bool, Never>? = state.withLock { state in
            guard let waiter = state.waiters.removeValue(forKey: id) else {
                state.expired.insert(id)
                return nil
            }
            return waiter
        }
        waiter?.resume(returning: false)
    }
}
