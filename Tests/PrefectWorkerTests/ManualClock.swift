import PrefectWorkerCore
import Synchronization

/// A `WorkerClock` that moves only when the test says so: `advance(by:)` runs every call that is
/// due, in order. A call scheduled with no delay runs at once.
final class ManualClock: WorkerClock {
    private struct Pending {
        let due: Duration
        let body: @Sendable () -> Void
    }

    private struct State {
        var elapsed: Duration = .zero
        var pending: [UInt64: Pending] = [:]
        var nextId: UInt64 = 0
    }

    private let origin = ContinuousClock.now
    private let state = Mutex(State())

    var now: ContinuousClock.Instant { origin + state.withLock { $0.elapsed } }

    /// How many scheduled calls wait (a sleeping loop holds one).
    var pendingCount: Int { state.withLock { $0.pending.count } }

    func schedule(after delay: Duration, _ body: @escaping @Sendable () -> Void) -> ScheduledWake {
        guard delay > .zero else {
            body()
            return ScheduledWake {}
        }
        let id = state.withLock { state in
            state.nextId += 1
            state.pending[state.nextId] = Pending(due: state.elapsed + delay, body: body)
            return state.nextId
        }
        return ScheduledWake { [weak self] in _ = self?.state.withLock { $0.pending.removeValue(forKey: id) } }
    }

    func advance(by duration: Duration) {
        let due: [Pending] = state.withLock { state in
            state.elapsed += duration
            let ready = state.pending.filter { $0.value.due <= state.elapsed }.sorted { $0.value.due < $1.value.due }
            for (id, _) in ready { state.pending.removeValue(forKey: id) }
            return ready.map(\.value)
        }
        for pending in due { pending.body() }
    }

    /// Returns once at least `count` calls are scheduled (a loop has gone to sleep), or false after
    /// `seconds` of real time.
    func waitForPending(_ count: Int, seconds: Double = 10) async -> Bool {
        let deadline = ContinuousClock.now + .seconds(seconds)
        while pendingCount < count {
            guard ContinuousClock.now < deadline else { return false }
            await Task.yield()
        }
        return true
    }
}
