import FoundationEssentials

/// Which failed requests are retried, and after how long: 429, 5xx and
/// connection errors retry with jittered exponential backoff, honouring `Retry-After`; every other
/// 4xx is final. Pure: the caller passes a random number in 0..<1.
public struct RetryPolicy: Sendable, Equatable {
    public var baseDelay: Double
    public var maxDelay: Double
    public var jitterFraction: Double
    /// Attempts after the first one; `nil` retries forever (used while waiting for a server at start).
    public var maxRetries: Int?
    /// The longest `Retry-After` honoured.
    public var retryAfterCap: Double
    /// More statuses to retry (`PREFECT_CLIENT_RETRY_EXTRA_CODES`).
    public var extraCodes: Set<Int> = []

    public init(
        baseDelay: Double = 0.5, maxDelay: Double = 30, jitterFraction: Double = 0.2, maxRetries: Int? = 8,
        retryAfterCap: Double? = nil
    ) {
        self.baseDelay = baseDelay
        self.maxDelay = maxDelay
        self.jitterFraction = jitterFraction
        self.maxRetries = maxRetries
        self.retryAfterCap = retryAfterCap ?? maxDelay * 4
    }

    /// For a call the worker makes every `period` seconds (heartbeat, poll, cancellation check):
    /// retried forever while the server is busy or away, never waiting longer than the period
    /// between two attempts (a `Retry-After` included), so it resumes within one period of the
    /// server's return. Only an answer a retry cannot change (a 4xx) ends it.
    public static func periodic(every period: Double) -> RetryPolicy {
        let cap = max(1, period)
        return RetryPolicy(baseDelay: min(0.5, cap), maxDelay: cap, maxRetries: nil, retryAfterCap: cap)
    }

    /// The wait before attempt `attempt + 1` of a loop that retries by itself (not one request):
    /// exponential from `baseDelay` up to `maxDelay`, jittered by `random` in 0..<1 (0.5: none).
    public func backoff(afterFailures attempt: Int, random: Double = 0.5) -> Double {
        let exponent = min(max(attempt, 1) - 1, 30)
        let raw = min(baseDelay * Double(1 << exponent), maxDelay)
        return min(maxDelay, max(0, raw + raw * jitterFraction * (random * 2 - 1)))  // jittered below the cap, never above it
    }

    // The worker's own retry loops, each with its budget (docs/architecture.md, "Retries").

    /// A call a held run cannot go on without (its final state, a read before reporting): every 5 s
    /// for as long as the failure is retryable, on top of the client's own retries.
    public static let untilAnswered = RetryPolicy(baseDelay: 5, maxDelay: 5, jitterFraction: 0, maxRetries: nil)
    /// A claim whose answer was lost, before the run is read back: 0.5 s doubling to 10 s.
    public static let claimReadBack = RetryPolicy(baseDelay: 0.5, maxDelay: 10, jitterFraction: 0, maxRetries: nil)
    /// An engine run waiting for the server before its process is started: `/health` every 1 s,
    /// doubling to 10 s, until it answers or the run is cancelled or the worker stops.
    public static let serverBeforeEngineStart = RetryPolicy(baseDelay: 1, maxDelay: 10, jitterFraction: 0, maxRetries: nil)
    /// The event stream after a failed connection: 2 s doubling to 60 s, forever (polling goes on meanwhile).
    public static let eventStreamReconnect = RetryPolicy(baseDelay: 2, maxDelay: 60, jitterFraction: 0, maxRetries: nil)
    /// Run logs the server did not take: the next flush after 2 s doubling to 60 s, forever (the
    /// queue is bounded).
    public static let runLogFlush = RetryPolicy(baseDelay: 2, maxDelay: 60, jitterFraction: 0, maxRetries: nil)

    public enum Failure: Equatable, Sendable {
        case status(Int)
        case connection
    }

    public static func isRetryable(_ failure: Failure) -> Bool {
        switch failure {
        case .connection: return true
        case .status(let code): return code == 408 || code == 429 || (500...599).contains(code)
        }
    }

    public func isRetryable(_ failure: Failure) -> Bool {
        if case .status(let code) = failure, extraCodes.contains(code) { return true }
        return Self.isRetryable(failure)
    }

    /// Prefect's client settings applied to a call's policy: their jitter and extra codes. Their
    /// retry count is the default policy's (`ClientRetrySettings.defaultPolicy`); calls with
    /// their own count keep it, so the worker's rules (a claim is sent once, periodic calls retry
    /// forever) stay on top.
    public func applying(_ client: ClientRetrySettings) -> RetryPolicy {
        var policy = self
        policy.jitterFraction = client.jitterFactor
        policy.extraCodes = client.extraCodes
        return policy
    }

    /// Seconds to wait before retry number `retry` (1-based), or nil when no retry should follow.
    public func delay(
        beforeRetry retry: Int, after failure: Failure, retryAfter: Double? = nil, random: Double
    ) -> Double? {
        guard isRetryable(failure) else { return nil }
        if let maxRetries, retry > maxRetries { return nil }
        if let retryAfter, retryAfter >= 0 { return min(retryAfter, retryAfterCap) }
        return backoff(afterFailures: retry, random: random)
    }

    /// Seconds from a `Retry-After` header: delta-seconds, or an HTTP date (RFC 9110's IMF-fixdate,
    /// as Prefect's client reads both) counted from `now`; never negative.
    public static func parseRetryAfter(_ header: String?, now: Date) -> Double? {
        guard let header = header?.trimmingSpaces(), !header.isEmpty else { return nil }
        if let seconds = Double(header) { return seconds.isFinite ? max(0, seconds) : nil }
        guard let date = httpDate(header) else { return nil }
        return max(0, date.timeIntervalSince(now))
    }

    /// `Sun, 06 Nov 1994 08:49:37 GMT`.
    static func httpDate(_ text: String) -> Date? {
        let parts = text.split(separator: " ")
        let months = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"]
        guard parts.count == 6, parts[5] == "GMT", let day = Int(parts[1]), let monthIndex = months.firstIndex(of: String(parts[2])),
            let year = Int(parts[3])
        else { return nil }
        let time = parts[4].split(separator: ":").compactMap { Int($0) }
        guard time.count == 3 else { return nil }
        var components = DateComponents()
        (components.year, components.month, components.day) = (year, monthIndex + 1, day)
        (components.hour, components.minute, components.second) = (time[0], time[1], time[2])
        var calendar = Calendar(identifier: .gregorian)
        calendar.timeZone = TimeZone(identifier: "UTC")!
        return calendar.date(from: components)
    }
}

/// Prefect's client retry settings (`PREFECT_CLIENT_MAX_RETRIES`, `_RETRY_EXTRA_CODES`,
/// `_RETRY_JITTER_FACTOR`), with Prefect's defaults.
public struct ClientRetrySettings: Sendable, Equatable {
    public var maxRetries: Int
    public var extraCodes: Set<Int>
    public var jitterFactor: Double

    public init(maxRetries: Int = 5, extraCodes: Set<Int> = [], jitterFactor: Double = 0.2) {
        self.maxRetries = maxRetries
        self.extraCodes = extraCodes
        self.jitterFactor = jitterFactor
    }

    /// The policy of calls without one of their own.
    public var defaultPolicy: RetryPolicy {
        RetryPolicy(maxRetries: maxRetries).applying(self)
    }
}
