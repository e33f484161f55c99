#if canImport(Glibc)
import Glibc
#endif

/// A mutex and its condition variable (pthreads), for the worker's own threads that sleep until
/// state changes: the reaper and the output writer. Hand-written because the worker links no full
/// Foundation (`NSCondition`; docs/architecture.md, "Foundation"), a `Mutex` cannot be waited on,
/// and NIO's `ConditionLock` waits for one integer value rather than for a predicate over a state.
/// Timed waits run on CLOCK_MONOTONIC, so a wall-clock step neither shortens nor stretches them.
final class ConditionVariable: @unchecked Sendable {
    private let mutex = UnsafeMutablePointer<pthread_mutex_t>.allocate(capacity: 1)
    private let condition = UnsafeMutablePointer<pthread_cond_t>.allocate(capacity: 1)

    init() {
        pthread_mutex_init(mutex, nil)
        var attributes = pthread_condattr_t()
        pthread_condattr_init(&attributes)
        pthread_condattr_setclock(&attributes, CLOCK_MONOTONIC)
        pthread_cond_init(condition, &attributes)
        pthread_condattr_destroy(&attributes)
    }

    deinit {
        pthread_cond_destroy(condition)
        pthread_mutex_destroy(mutex)
        condition.deallocate()
        mutex.deallocate()
    }

    func lock() { pthread_mutex_lock(mutex) }
    func unlock() { pthread_mutex_unlock(mutex) }

    func withLock<T>(_ body: () throws -> T) rethrows -> T {
        lock()
        defer { unlock() }
        return try body()
    }

    /// Waits for a signal (the lock held on entry and on return; wake-ups may be spurious).
    func wait() { pthread_cond_wait(condition, mutex) }

    /// Waits for a signal or until `deadline` (monotonic seconds, `monotonicSeconds()`); false once
    /// the deadline has passed.
    @discardableResult
    func wait(untilMonotonic deadline: Double) -> Bool {
        guard deadline > Self.monotonicSeconds() else { return false }
        let whole = deadline.rounded(.down)
        var until = timespec(tv_sec: Int(whole), tv_nsec: Int((deadline - whole) * 1e9))
        return pthread_cond_timedwait(condition, mutex, &until) != ETIMEDOUT
    }

    func signal() { pthread_cond_signal(condition) }
    func broadcast() { pthread_cond_broadcast(condition) }

    static func monotonicSeconds() -> Double {
        var time = timespec()
        clock_gettime(CLOCK_MONOTONIC, &time)
        return Double(time.tv_sec) + Double(time.tv_nsec) / 1e9
    }
}
