import Foundation

/// Which failed requests are retried, and after how long (architecture rule 6): 429, 5xx and
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

    /// Seconds to wait before retry number `retry` (1-based), or nil when no retry should follow.
    public func delay(
        beforeRetry retry: Int, after failure: Failure, retryAfter: Double? = nil, random: Double
    ) -> Double? {
        guard Self.isRetryable(failure) else { return nil }
        if let maxRetries, retry > maxRetries { return nil }
        if let retryAfter, retryAfter >= 0 { return min(retryAfter, retryAfterCap) }
        let exponent = min(retry - 1, 30)
        let raw = min(baseDelay * Double(1 << exponent), maxDelay)
        let jitter = raw * jitterFraction * (random * 2 - 1)
        return min(maxDelay, max(0, raw + jitter))  // jittered below the cap, never above it
    }

    /// Seconds from a `Retry-After` header: delta-seconds only (HTTP dates are rare from Prefect).
    public static func parseRetryAfter(_ header: String?) -> Double? {
        guard let header, let seconds = Double(header.trimmingCharacters(in: .whitespaces)) else { return nil }
        return seconds
    }
}
