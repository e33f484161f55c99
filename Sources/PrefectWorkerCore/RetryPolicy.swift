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

    public init(baseDelay: Double = 0.5, maxDelay: Double = 30, jitterFraction: Double = 0.2, maxRetries: Int? = 8) {
        self.baseDelay = baseDelay
        self.maxDelay = maxDelay
        self.jitterFraction = jitterFraction
        self.maxRetries = maxRetries
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
        if let retryAfter, retryAfter >= 0 { return min(retryAfter, maxDelay * 4) }
        let exponent = min(retry - 1, 30)
        let raw = min(baseDelay * Double(1 << exponent), maxDelay)
        let jitter = raw * jitterFraction * (random * 2 - 1)
        return max(0, raw + jitter)
    }

    /// Seconds from a `Retry-After` header: delta-seconds only (HTTP dates are rare from Prefect).
    public static func parseRetryAfter(_ header: String?) -> Double? {
        guard let header, let seconds = Double(header.trimmingCharacters(in: .whitespaces)) else { return nil }
        return seconds
    }
}
