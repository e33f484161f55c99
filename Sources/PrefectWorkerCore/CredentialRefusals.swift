/// Once registered, the worker never exits because the server is busy or away; the one answer that
/// ends it is the server refusing its credentials (401, 403) on the calls it makes every period,
/// several times in a row: a revoked API key does not come back by itself, and a worker that can
/// neither poll nor report should say so and stop rather than pretend to serve. A single refusal
/// (a proxy or a server restarting with its auth not loaded yet) is retried like any failure. Pure.
public struct CredentialRefusals: Sendable, Equatable {
    public static let limit = 3
    public private(set) var inARow = 0

    public init() {}

    /// A periodic call was answered (or failed for another reason): the count starts again.
    public mutating func answered() {
        inARow = 0
    }

    /// A periodic call failed with `status` (nil: no answer). Returns the one line to exit with once
    /// the credentials were refused `limit` times in a row, naming the setting to fix.
    public mutating func failed(status: Int?, route: String, credentials: Credentials) -> String? {
        guard let status, status == 401 || status == 403 else {
            inARow = 0
            return nil
        }
        inARow += 1
        guard inARow >= Self.limit else { return nil }
        let fix: String
        switch credentials {
        case .apiKey: fix = "check PREFECT_API_KEY (or PREFECT_API_KEY_FILE): the key may have been revoked or have expired"
        case .authString: fix = "check PREFECT_API_AUTH_STRING (or PREFECT_API_AUTH_STRING_FILE): it must match the server's PREFECT_SERVER_API_AUTH_STRING"
        case .none: fix = "the server now requires credentials: set PREFECT_API_KEY or PREFECT_API_AUTH_STRING"
        }
        return "the Prefect server refused the worker's credentials \(inARow) times in a row (\(route) answered HTTP \(status)); \(fix)"
    }

    /// Which credential the worker sends.
    public enum Credentials: Sendable {
        case apiKey
        case authString
        case none
    }
}
