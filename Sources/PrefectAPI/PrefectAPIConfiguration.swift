import FoundationEssentials
import PrefectWorkerCore

/// Where the server is and how to authenticate (docs/prefect-worker-protocol.md §1).
public struct PrefectAPIConfiguration: Sendable, Equatable {
    /// `PREFECT_API_URL`, including `/api`, without a trailing slash.
    public var baseURL: String
    /// `PREFECT_API_KEY`, sent as `Authorization: Bearer`.
    public var apiKey: String?
    /// `PREFECT_API_AUTH_STRING`, sent as `Authorization: Basic base64(...)`; wins over the key.
    public var authString: String?
    /// `PREFECT_CLIENT_CUSTOM_HEADERS`.
    public var customHeaders: [String: String]
    /// Seconds one request may take (`PREFECT_API_REQUEST_TIMEOUT`).
    public var requestTimeoutSeconds: Double
    public var tls = TLS()
    /// The proxy for the API's host (`HTTPS_PROXY`/`HTTP_PROXY`, unless `NO_PROXY` matches); nil = direct.
    public var proxy: ProxySetting?
    /// Prefect's client retry settings (`PREFECT_CLIENT_MAX_RETRIES` etc.).
    public var clientRetry = ClientRetrySettings()
    /// `PREFECT_CLIENT_CSRF_SUPPORT_ENABLED`: send a CSRF token on writes when the server has
    /// CSRF protection on.
    public var csrfSupportEnabled = true

    /// How an https API's certificate is checked.
    public struct TLS: Sendable, Equatable {
        /// `PREFECT_API_SSL_CERT_FILE`: the CA certificates (PEM) trusted instead of the system's.
        public var caFile: String?
        /// `PREFECT_API_TLS_INSECURE_SKIP_VERIFY`: no verification at all.
        public var insecureSkipVerify = false

        public init(caFile: String? = nil, insecureSkipVerify: Bool = false) {
            self.caFile = caFile
            self.insecureSkipVerify = insecureSkipVerify
        }
    }

    /// Which credential the requests carry (the auth string wins over the key).
    public var credentialKind: CredentialRefusals.Credentials {
        authString != nil ? .authString : apiKey != nil ? .apiKey : .none
    }

    public init(
        baseURL: String, apiKey: String? = nil, authString: String? = nil, customHeaders: [String: String] = [:],
        requestTimeoutSeconds: Double = 60
    ) {
        self.baseURL = baseURL.hasSuffix("/") ? String(baseURL.dropLast()) : baseURL
        self.apiKey = apiKey
        self.authString = authString
        self.customHeaders = customHeaders
        self.requestTimeoutSeconds = requestTimeoutSeconds
    }

    /// Headers the user may not override with custom headers (as in Prefect's client).
    public static let protectedHeaders: Set<String> = ["user-agent", "prefect-csrf-token", "prefect-csrf-client"]

    /// Every header a request carries.
    public var headers: [(String, String)] {
        var headers: [(String, String)] = []
        for (name, value) in customHeaders.sorted(by: { $0.key < $1.key })
        where !Self.protectedHeaders.contains(name.lowercased()) && name.lowercased() != "authorization" {
            headers.append((name, value))
        }
        if let authString {
            headers.append(("Authorization", "Basic " + Data(authString.utf8).base64EncodedString()))
        } else if let apiKey {
            headers.append(("Authorization", "Bearer " + apiKey))
        } else if let custom = customHeaders.first(where: { $0.key.lowercased() == "authorization" }) {
            headers.append((custom.key, custom.value))
        }
        headers.append(("User-Agent", "prefect-worker-swift/\(PrefectWorkerVersion.current)"))
        headers.append(("X-PREFECT-API-VERSION", "0.8.4"))
        headers.append(("Content-Type", "application/json"))
        headers.append(("Accept", "application/json"))
        return headers
    }
}
