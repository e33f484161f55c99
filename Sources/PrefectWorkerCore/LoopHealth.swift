import FoundationEssentials

/// Whether the worker's loops are doing their job, from when each last succeeded. It decides
/// whether the systemd watchdog is fed: a worker whose heartbeats or polls keep failing (server
/// unreachable, credentials revoked, a loop stuck) stops feeding it, as buildkite's agent does.
public struct LoopHealth: Sendable, Equatable {
    public var lastHeartbeat: Date?
    public var lastPoll: Date?
    /// Set when the worker stops claiming (drain): polling has ended on purpose.
    public var isDraining = false

    public init(lastHeartbeat: Date? = nil, lastPoll: Date? = nil, isDraining: Bool = false) {
        self.lastHeartbeat = lastHeartbeat
        self.lastPoll = lastPoll
        self.isDraining = isDraining
    }

    /// A loop is late when it has not succeeded for three of its intervals (the server marks a
    /// worker OFFLINE after three missed heartbeats too), and never sooner than 10 s, so one slow
    /// answer from a busy server does not count as a failure.
    public static func staleAfter(interval: Double) -> Double {
        max(3 * interval, 10)
    }

    public func isHealthy(now: Date, heartbeatSeconds: Double, querySeconds: Double) -> Bool {
        guard let lastHeartbeat, now.timeIntervalSince(lastHeartbeat) <= Self.staleAfter(interval: heartbeatSeconds)
        else { return false }
        if isDraining { return true }
        guard let lastPoll else { return false }
        return now.timeIntervalSince(lastPoll) <= Self.staleAfter(interval: querySeconds)
    }
}
