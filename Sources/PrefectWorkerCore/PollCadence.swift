import FoundationEssentials

/// When the worker polls, and which of a poll's runs it claims now.
///
/// Without the event stream it polls every `querySeconds`, like Prefect's worker. While the
/// stream is subscribed, new and retried runs announce themselves, so the worker polls at least
/// every `streamPollSeconds` anyway (runs scheduled ahead come due without an event, and the server
/// marks a work queue NOT_READY after 60 s without a poll), each poll looks that far ahead, and the
/// worker wakes up exactly when the earliest run it saw ahead comes within the prefetch window.
public struct PollCadence: Sendable, Equatable {
    public static let streamPollSeconds = 30.0

    public var querySeconds: Double
    public var prefetchSeconds: Double

    public init(querySeconds: Double, prefetchSeconds: Double) {
        self.querySeconds = querySeconds
        self.prefetchSeconds = prefetchSeconds
    }

    /// The longest time between two polls.
    public func interval(streamSubscribed: Bool) -> Double {
        streamSubscribed ? max(querySeconds, Self.streamPollSeconds) : querySeconds
    }

    /// How far past the prefetch window a poll looks: up to the next poll, when the stream is on.
    public func lookaheadSeconds(streamSubscribed: Bool) -> Double {
        streamSubscribed ? interval(streamSubscribed: true) : 0
    }

    /// The runs to claim now (due within the prefetch window, or with no due time), and when the
    /// earliest of the others enters that window.
    public func split(_ runs: [ScheduledFlowRun], now: Date) -> (due: [ScheduledFlowRun], nextClaimAt: Date?) {
        let horizon = now.addingTimeInterval(prefetchSeconds)
        var due: [ScheduledFlowRun] = []
        var nextClaimAt: Date?
        for run in runs {
            guard let start = run.flowRun.nextScheduledStartTime.flatMap(RFC3339.parse), start > horizon else {
                due.append(run)
                continue
            }
            let claimAt = start.addingTimeInterval(-prefetchSeconds)
            nextClaimAt = min(nextClaimAt ?? claimAt, claimAt)
        }
        return (due, nextClaimAt)
    }

    /// Seconds to wait before the next poll (a wake-up may end the wait sooner).
    public func wait(now: Date, streamSubscribed: Bool, nextClaimAt: Date?) -> Double {
        let interval = interval(streamSubscribed: streamSubscribed)
        guard let nextClaimAt else { return interval }
        return min(interval, max(0, nextClaimAt.timeIntervalSince(now)))
    }
}
