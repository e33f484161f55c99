import NIOCore
import NIOPosix

/// Sleeps on a NIO event loop timer instead of `Task.sleep`. On Linux, libdispatch re-arms its
/// timer every second for as long as any `Task.sleep` is pending, which wakes an idle worker 60
/// times a minute; a NIO timer wakes once, at its deadline. Throws `CancellationError` when the
/// task is cancelled.
public func sleepOnEventLoop(seconds: Double) async throws {
    try Task.checkCancellation()
    let scheduled = MultiThreadedEventLoopGroup.singleton.next().scheduleTask(in: .nanoseconds(Int64(max(0, seconds) * 1e9))) {}
    try await withTaskCancellationHandler {
        do {
            try await scheduled.futureResult.get()
        } catch {
            throw CancellationError()
        }
    } onCancel: {
        scheduled.cancel()
    }
}

/// Calls `body` once after `seconds` on a NIO event loop, unless cancelled first (see `sleepOnEventLoop`).
public struct EventLoopTimer: Sendable {
    private let scheduled: Scheduled<Void>

    public init(seconds: Double, _ body: @escaping @Sendable () -> Void) {
        scheduled = MultiThreadedEventLoopGroup.singleton.next().scheduleTask(in: .nanoseconds(Int64(max(0, seconds) * 1e9)), body)
    }

    public func cancel() {
        scheduled.cancel()
    }
}
