import PrefectWorkerCore

/// A failed Prefect API call, after any retries. `description` is one line naming the route.
public enum PrefectAPIError: Error, CustomStringConvertible, Sendable {
    /// The server answered with an error status; `detail` is its own explanation.
    case http(status: Int, route: String, detail: String)
    /// No answer: the connection was reset or closed, or the answer timed out.
    case connection(route: String, reason: String)
    /// No connection could be made (refused, or connecting timed out): the request was not sent.
    case unsent(route: String, reason: String)
    /// An answer that could not be read.
    case undecodable(route: String, reason: String)
    /// The TLS handshake failed (an untrusted or mismatched certificate): not retried, the
    /// settings must change.
    case tls(route: String, reason: String)

    public var description: String {
        switch self {
        case .http(let status, let route, let detail): return "\(route) answered HTTP \(status): \(detail)"
        case .connection(let route, let reason), .unsent(let route, let reason): return "\(route) could not be reached: \(reason)"
        case .undecodable(let route, let reason): return "\(route) answered something unreadable: \(reason)"
        case .tls(let route, let reason):
            return "\(route): TLS handshake failed (\(reason)); trust the server's CA with PREFECT_API_SSL_CERT_FILE=/path/ca.pem, "
                + "or set PREFECT_API_TLS_INSECURE_SKIP_VERIFY=true (testing only)"
        }
    }

    /// The request that failed, e.g. "POST /work_pools/p/workers/heartbeat".
    public var route: String {
        switch self {
        case .http(_, let route, _), .connection(let route, _), .unsent(let route, _), .undecodable(let route, _), .tls(let route, _):
            return route
        }
    }

    /// The failure as the retry policy classifies it; nil for one no retry can fix (an answer
    /// that cannot be read, a certificate that is not trusted).
    public var failure: RetryPolicy.Failure? {
        switch self {
        case .http(let status, _, _): return .status(status)
        case .connection, .unsent: return .connection
        case .undecodable, .tls: return nil
        }
    }

    /// Whether a later attempt may succeed: the one classifier for every caller (`RetryPolicy.isRetryable`).
    public var isRetryable: Bool { failure.map(RetryPolicy.isRetryable) ?? false }

    /// Whether the server may have taken the request, or still may, without the worker knowing:
    /// no answer came (a cut connection, a timeout), a gateway answered for the server (502, 504),
    /// or the answer could not be read. The server's own error answers (a 503 of a failed
    /// transaction, say) say that it did not take it; a refused connection or a failed TLS
    /// handshake sent nothing.
    public var mayStillLand: Bool {
        switch self {
        case .connection, .undecodable: return true
        case .http(let status, _, _): return status == 502 || status == 504
        case .unsent, .tls: return false
        }
    }

    public var status: Int? {
        if case .http(let status, _, _) = self { return status }
        return nil
    }
}
