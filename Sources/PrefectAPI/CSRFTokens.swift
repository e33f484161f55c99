import FoundationEssentials

/// The CSRF token a Prefect server with `PREFECT_SERVER_CSRF_PROTECTION_ENABLED` wants on every
/// write (POST, PUT, PATCH, DELETE), as Prefect's client handles it: fetched with
/// `GET /csrf-token?client=<id>` before the first write, for one client id per worker process,
/// sent as `Prefect-Csrf-Token` and `Prefect-Csrf-Client`. A server without CSRF protection
/// answers 422 ("CSRF protection is disabled.") or 404, and is never asked again.
///
/// Unlike Prefect's client it fetches a new token a minute before the old one expires (not after),
/// and one fetch serves every request waiting for it: the server keeps one token per client id,
/// so two fetches at once would invalidate each other.
actor CSRFTokens {
    enum Fetched: Sendable {
        case token(String, expires: Date)
        case disabled
    }

    private enum State {
        case unknown
        case disabled
        case token(String, expires: Date)
    }

    /// Refreshed this long before it expires.
    static let refreshMargin: Double = 60
    static let tokenHeader = "Prefect-Csrf-Token"
    static let clientHeader = "Prefect-Csrf-Client"
    /// The server's 403 when a token is missing, expired or not the client's.
    static func isRefusal(status: Int, body: String) -> Bool {
        status == 403 && (body.contains("Invalid CSRF token") || body.contains("Missing CSRF token"))
    }

    let clientId = UUID().uuidString.lowercased()
    private var state: State
    private var fetching: Task<Fetched, Error>?

    init(enabled: Bool) {
        state = enabled ? .unknown : .disabled
    }

    /// The token to send now; nil when the server does not want one. `fetch` asks the server.
    func token(now: Date, fetch: @escaping @Sendable () async throws -> Fetched) async throws -> String? {
        switch state {
        case .disabled: return nil
        case .token(let token, let expires) where now.addingTimeInterval(Self.refreshMargin) < expires: return token
        default: break
        }
        let task: Task<Fetched, Error>
        if let fetching {
            task = fetching
        } else {
            task = Task { try await fetch() }
            fetching = task
        }
        let fetched: Fetched
        do {
            fetched = try await task.value
        } catch {
            if fetching == task { fetching = nil }
            throw error
        }
        if fetching == task {
            fetching = nil
            switch fetched {
            case .disabled: state = .disabled
            case .token(let token, let expires): state = .token(token, expires: expires)
            }
        }
        if case .token(let token, _) = fetched { return token }
        return nil
    }

    /// The server refused `token`: the next request fetches a new one (unless another did already).
    func refused(_ token: String) {
        if case .token(let current, _) = state, current == token { state = .unknown }
    }

    var isDisabled: Bool {
        if case .disabled = state { return true }
        return false
    }
}
