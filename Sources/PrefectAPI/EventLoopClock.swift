import NIOCore
import NIOPosix
import PrefectWorkerCore

/// The production `WorkerClock`: waits are NIO event-loop timers, not `Task.sleep`. On Linux,
/// libdispatch re-arms its timer every second for as long as any `Task.sleep` is pending, which
/// wakes an idle worker 60 times a minute; a NIO timer wakes once, at its deadline
/// (docs/architecture.md, "Deliberate oddities").
public struct EventLoopClock: WorkerClock {
    public init() {}

    public var now: ContinuousClock.Instant { .now }

    public func schedule(after delay: Duration, _ body: @escaping @Sendable () -> Void) -> ScheduledWake {
        let nanoseconds = max(0, delay.components.seconds * 1_000_000_000 + delay.components.attoseconds / 1_000_000_000)
        let scheduled = MultiThreadedEventLoopGroup.singleton.next().scheduleTask(in: .nanoseconds(nanoseconds), body)
        return ScheduledWake { scheduled.cancel() }
    }
}
