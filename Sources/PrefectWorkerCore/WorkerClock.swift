import Synchronization

/// The one way the daemon measures time and waits (docs/architecture.md, "Time"): injected into
/// every service, an event-loop clock in production (an idle worker stays asleep until its next
/// deadline), a manual clock in tests. Only the interface is here; the core itself never waits and
/// takes `now` as a parameter.
public protocol WorkerClock: Sendable {
    /// Monotonic time, for deadlines and measured durations.
    var now: ContinuousClock.Instant { get }
    /// Calls `body` once after `delay`, unless cancelled first.
    func schedule(after delay: Duration, _ body: @escaping @Sendable () -> Void) -> ScheduledWake
}

extension Duration {
    /// The duration in seconds, for settings and messages given in seconds.
    public var inSeconds: Double {
        Double(components.seconds) + Double(components.attoseconds) / 1e18
    }
}

/// A scheduled call that has not happened yet can be cancelled.
public struct ScheduledWake: Sendable {
    private let cancelling: @Sendable () -> Void

    public init(cancel: @escaping @Sendable () -> Void) {
        cancelling = cancel
    }

    public func cancel() { cancelling() }
}

extension WorkerClock {
    /// Returns after `delay`; throws `CancellationError` at once when the task is cancelled.
    public func sleep(for delay: Duration) async throws {
        try Task.checkCancellation()
        let sleeper = Sleeper()
        let wake = schedule(after: delay) { sleeper.resume(cancelled: false) }
        defer { wake.cancel() }
        try await withTaskCancellationHandler {
            try await withCheckedThrowingContinuation { continuation in sleeper.park(continuation) }
        } onCancel: {
            sleeper.resume(cancelled: true)
        }
    }

    /// `sleep(for:)` in seconds (a negative value does not wait).
    public func sleep(seconds: Double) async throws {
        try await sleep(for: .seconds(max(0, seconds)))
    }
}

/// One sleep's continuation: whichever of the timer and the cancellation comes first resumes it,
/// also when it comes before the continuation is parked.
private final class Sleeper: Sendable {
    private enum State {
        case waiting
        case parked(CheckedContinuation<Void, Error>)
        case ended(cancelled: Bool)
    }

    private let state = Mutex<State>(.waiting)

    func park(_ continuation: CheckedContinuation<Void, Error>) {
        let ended: Bool? = state.withLock { state in
            if case .ended(let cancelled) = state { return cancelled }
            state = .parked(continuation)
            return nil
        }
        if let cancelled = ended { Self.finish(continuation, cancelled: cancelled) }
    }

    func resume(cancelled: Bool) {
        let parked: CheckedContinuation<Void, Error>? = state.withLock { state in
            switch state {
            case .waiting:
                state = .ended(cancelled: cancelled)
                return nil
            case .parked(let continuation):
                state = .ended(cancelled: cancelled)
                return continuation
            case .ended:
                return nil
            }
        }
        if let parked { Self.finish(parked, cancelled: cancelled) }
    }

    private static func finish(_ continuation: CheckedContinuation<Void, Error>, cancelled: Bool) {
        if cancelled { continuation.resume(throwing: CancellationError()) } else { continuation.resume() }
    }
}
