/// The limits on one run's output on its way to the log sink, so that a child writing fast can
/// neither stall (the worker never stops reading its pipes) nor grow the worker's memory without
/// bound: a token bucket of lines (a sustained rate with a burst) and a cap on the bytes waiting to
/// be written. What does not fit is dropped and counted, never silently.
///
/// Time is a parameter (`now`, monotonic seconds), so the decisions are tested without a clock.
public struct OutputBudget: Sendable, Equatable {
    public enum Admission: Sendable, Equatable {
        case accept
        /// Over the run's line rate (the burst is used up).
        case overRate
        /// The sink is behind and the run's queue holds `maxQueuedBytes` already.
        case queueFull
    }

    /// Lines per second sustained; 0 = no rate limit.
    public let linesPerSecond: Double
    /// Lines that may come at once before the rate applies.
    public let burstLines: Double
    /// Bytes of lines accepted but not yet written, at most.
    public let maxQueuedBytes: Int
    /// What a queued line costs beyond its text (its record and bookkeeping), so a flood of empty
    /// lines is bounded too.
    public static let lineOverheadBytes = 64

    public private(set) var tokens: Double
    public private(set) var queuedBytes = 0
    private var lastRefill: Double?

    public init(linesPerSecond: Double, burstLines: Double, maxQueuedBytes: Int) {
        self.linesPerSecond = max(0, linesPerSecond)
        self.burstLines = max(1, burstLines)
        self.maxQueuedBytes = max(1, maxQueuedBytes)
        self.tokens = max(1, burstLines)
    }

    /// Decides about one line of `bytes` bytes arriving at `now`; an accepted line is counted as
    /// queued until `release` is called for it.
    public mutating func admit(bytes: Int, now: Double) -> Admission {
        let cost = bytes + Self.lineOverheadBytes
        if linesPerSecond > 0 {
            if let last = lastRefill, now > last {
                tokens = min(burstLines, tokens + (now - last) * linesPerSecond)
            }
            lastRefill = now
            guard tokens >= 1 else { return .overRate }
        }
        guard queuedBytes + cost <= maxQueuedBytes else { return .queueFull }
        if linesPerSecond > 0 { tokens -= 1 }
        queuedBytes += cost
        return .accept
    }

    /// A line of `bytes` bytes was written (or abandoned).
    public mutating func release(bytes: Int) {
        queuedBytes = max(0, queuedBytes - bytes - Self.lineOverheadBytes)
    }
}

/// What happened to a run's output lines, for the run's closing log line and the drop notices.
public struct OutputCounts: Sendable, Equatable {
    public var written = 0
    public var droppedOverRate = 0
    public var droppedQueueFull = 0

    public init(written: Int = 0, droppedOverRate: Int = 0, droppedQueueFull: Int = 0) {
        self.written = written
        self.droppedOverRate = droppedOverRate
        self.droppedQueueFull = droppedQueueFull
    }

    public var dropped: Int { droppedOverRate + droppedQueueFull }

    /// "N lines dropped (M over the rate limit, K while the log sink was behind)".
    public var dropDescription: String {
        var reasons: [String] = []
        if droppedOverRate > 0 { reasons.append("\(droppedOverRate) over the run's output rate limit") }
        if droppedQueueFull > 0 { reasons.append("\(droppedQueueFull) while the log sink was behind") }
        return "\(dropped) line(s) of output dropped (\(reasons.joined(separator: ", ")))"
    }
}
