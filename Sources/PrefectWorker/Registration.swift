import Synchronization

/// The pool as registered, with what keeps it current.
struct RegisteredPool: Sendable {
    let registrar: WorkPoolRegistrar
    let cache: WorkPoolCache
}

/// Set once the worker is registered with its pool (the heartbeat service does it): the services
/// that need the pool wait for it.
final class Registration: Sendable {
    private struct State {
        var pool: RegisteredPool?
        var waiters: [UInt64: CheckedContinuation<RegisteredPool?, Never>] = [:]
        var nextWaiter: UInt64 = 0
    }

    private let state = Mutex(State())

    func complete(_ pool: RegisteredPool) {
        let waiters = state.withLock { state in
            state.pool = pool
            defer { state.waiters = [:] }
            return Array(state.waiters.values)
        }
        for waiter in waiters { waiter.resume(returning: pool) }
    }

    var isComplete: Bool { state.withLock { $0.pool != nil } }

    /// The registered pool, once there is one; nil when the task is cancelled first.
    func wait() async -> RegisteredPool? {
        let id = state.withLock { state in
            state.nextWaiter += 1
            return state.nextWaiter
        }
        return await withTaskCancellationHandler {
            await withCheckedContinuation { (continuation: CheckedContinuation<RegisteredPool?, Never>) in
                let ready: (pool: RegisteredPool?, now: Bool) = state.withLock { state in
                    if let pool = state.pool { return (pool, true) }
                    if Task.isCancelled { return (nil, true) }
                    state.waiters[id] = continuation
                    return (nil, false)
                }
                if ready.now { continuation.resume(returning: ready.pool) }
            }
        } onCancel: {
            let waiter = state.withLock { $0.waiters.removeValue(forKey: id) }
            waiter?.resume(returning: nil)
        }
    }
}
