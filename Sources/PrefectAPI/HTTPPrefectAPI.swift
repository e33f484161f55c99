import AsyncHTTPClient
import CoreMetrics
import FoundationEssentials
import Logging
import NIOCore
import NIOHTTP1
import NIOSSL
import PrefectWorkerCore

#if canImport(Glibc)
import Glibc
#endif

/// `PrefectAPI` over HTTP with AsyncHTTPClient. Every request carries the auth and custom headers;
/// 408/429/5xx and connection failures are retried by `RetryPolicy`, everything else is final.
public final class HTTPPrefectAPI: PrefectAPI {
    public let configuration: PrefectAPIConfiguration
    let client: HTTPClient
    let logger: Logger
    let retry: RetryPolicy
    let metrics: APIRequestMetrics
    /// Whether the last request reached the server (see `ServerReachability`).
    public let reachability = ServerReachability()
    /// The CSRF token writes carry when the server wants one.
    let csrf: CSRFTokens
    /// Waits between retries.
    let clock: any WorkerClock

    /// `metrics` receives a count, an error count and a duration per request attempt.
    public init(
        configuration: PrefectAPIConfiguration, retry: RetryPolicy? = nil, logger: Logger,
        metrics: any MetricsFactory = NOOPMetricsHandler.instance, clock: any WorkerClock = EventLoopClock()
    ) {
        self.clock = clock
        self.configuration = configuration
        self.retry = retry ?? configuration.clientRetry.defaultPolicy
        // Prefect's Cloud client never uses CSRF tokens; a self-hosted server may.
        let isCloud = URL(string: configuration.baseURL)?.host?.hasSuffix("prefect.cloud") ?? false
        self.csrf = CSRFTokens(enabled: configuration.csrfSupportEnabled && !isCloud)
        self.logger = logger
        self.metrics = APIRequestMetrics(factory: metrics)
        var clientConfiguration = HTTPClient.Configuration()
        clientConfiguration.timeout = .init(
            connect: .seconds(10), read: .milliseconds(Int64(configuration.requestTimeoutSeconds * 1000)))
        // Below uvicorn's keep-alive timeout (5 s): a pooled connection is dropped by the worker
        // before the server closes it, so a request rarely meets a connection closed under it.
        clientConfiguration.connectionPool = .init(
            idleTimeout: .seconds(Int64(Self.pooledConnectionIdleSeconds)), concurrentHTTP1ConnectionsPerHostSoftLimit: 8)
        clientConfiguration.tlsConfiguration = configuration.tls.clientConfiguration
        if let proxy = configuration.proxy {
            clientConfiguration.proxy = .server(
                host: proxy.host, port: proxy.port,
                authorization: proxy.credentials.map { .basic(credentials: Data($0.utf8).base64EncodedString()) })
        }
        self.client = HTTPClient(eventLoopGroupProvider: .singleton, configuration: clientConfiguration)
    }

    /// How long an idle keep-alive connection is kept for reuse.
    static let pooledConnectionIdleSeconds = 4

    public func shutdown() async throws {
        try await client.shutdown()
    }

    struct Answer {
        var status: Int
        var body: ByteBuffer
    }

    /// Sends one request, retrying per `policy`; returns the answer for 2xx and for the statuses in
    /// `accepting`, throws `PrefectAPIError` otherwise.
    func send(
        _ method: HTTPMethod, _ path: String, json body: Data? = nil, accepting: Set<Int> = [],
        policy: RetryPolicy? = nil, unanswered: UnansweredAttempt? = nil
    ) async throws -> Answer {
        // A request sent once is not sent again quietly either: a reset may come after the server
        // took it, and for a forced proposal a second copy is not harmless (README, "Exactly once").
        let sendsOnce = policy?.maxRetries == 0
        let policy = (policy ?? retry).applying(configuration.clientRetry)
        let route = "\(method.rawValue) \(path)"
        let isWrite = [.POST, .PUT, .PATCH, .DELETE].contains(method)
        var csrfToken = isWrite ? try await csrfToken(policy: policy) : nil
        var retryNumber = 0
        var retriedClosedConnection = false
        var refreshedCSRF = false
        while true {
            try Task.checkCancellation()
            let failure: RetryPolicy.Failure
            let failed: PrefectAPIError
            var retryAfter: Double?
            var maintenance = false
            let started = ContinuousClock.now
            do {
                var request = HTTPClientRequest(url: configuration.baseURL + path)
                request.method = method
                for (name, value) in configuration.headers { request.headers.add(name: name, value: value) }
                if let csrfToken {
                    request.headers.replaceOrAdd(name: CSRFTokens.tokenHeader, value: csrfToken)
                    request.headers.replaceOrAdd(name: CSRFTokens.clientHeader, value: csrf.clientId)
                }
                if let body { request.body = .bytes(ByteBuffer(bytes: body)) }
                let response = try await client.execute(
                    request, timeout: .milliseconds(Int64(configuration.requestTimeoutSeconds * 1000)))
                let bytes = try await response.body.collect(upTo: 64 * 1024 * 1024)
                let status = Int(response.status.code)
                let answered = (200..<300).contains(status) || accepting.contains(status)
                reachability.record(status: status)
                metrics.record(
                    method: method.rawValue, path: path, status: status, failed: !answered, duration: ContinuousClock.now - started)
                if answered { return Answer(status: status, body: bytes) }
                // A token the server no longer takes (expired, or replaced): a new one, sent at once.
                if let token = csrfToken, !refreshedCSRF, CSRFTokens.isRefusal(status: status, body: String(buffer: bytes)) {
                    refreshedCSRF = true
                    await csrf.refused(token)
                    logger.debug("the server refused the CSRF token; fetching a new one", metadata: ["route": "\(route)"])
                    csrfToken = try await self.csrfToken(policy: policy)
                    continue
                }
                if status == 502 || status == 504 { await unanswered?() }
                failure = .status(status)
                retryAfter = RetryPolicy.parseRetryAfter(response.headers.first(name: "Retry-After"), now: Date())
                // Prefect's maintenance answer: retried without counting, for as long as it lasts.
                maintenance = response.headers.first(name: "Prefect-Maintenance")?.lowercased() == "true"
                failed = .http(status: status, route: route, detail: ErrorDetail.extract(from: bytes))
            } catch let cancelled as CancellationError {
                throw cancelled
            } catch {
                if Task.isCancelled { throw CancellationError() }
                metrics.record(method: method.rawValue, path: path, status: nil, failed: true, duration: ContinuousClock.now - started)
                reachability.record(status: nil)
                let sent = !Self.neverSent(error)
                if sent { await unanswered?() }
                if let reason = PrefectAPIConfiguration.TLS.handshakeFailure(error) { throw PrefectAPIError.tls(route: route, reason: reason) }
                // A kept-alive connection the server had already closed: the request never got an
                // answer, so it is sent again at once on a fresh connection, once, quietly.
                if !retriedClosedConnection, !sendsOnce, Self.isClosedConnection(error) {
                    retriedClosedConnection = true
                    logger.debug("connection closed by the server before an answer; sending again", metadata: ["route": "\(route)", "error": "\(error)"])
                    continue
                }
                failure = .connection
                failed = sent
                    ? PrefectAPIError.connection(route: route, reason: String(describing: error))
                    : PrefectAPIError.unsent(route: route, reason: String(describing: error))
            }
            if !(maintenance && policy.isRetryable(failure)) { retryNumber += 1 }
            guard let delay = policy.delay(
                beforeRetry: max(1, retryNumber), after: failure, retryAfter: retryAfter, random: Double.random(in: 0..<1))
            else { throw failed }
            // One answer that the next attempt may well change (a busy server's 503) is routine, as
            // in Prefect's client (debug); a request that keeps failing, or a server that cannot be
            // reached at all, is worth a warning.
            let routine: Bool = if case .status = failure { retryNumber <= 1 && !maintenance } else { false }
            logger.log(
                level: routine ? .debug : .warning,
                maintenance ? "the Prefect server is in maintenance; retrying" : "Prefect API call failed; retrying",
                metadata: ["route": "\(route)", "error": "\(failed)", "retry": "\(retryNumber)", "delay_s": "\(delay.fixedPointText(digits: 2))"])
            try await clock.sleep(seconds: delay)
        }
    }

    /// The CSRF token for a write (nil: the server wants none), fetched when there is none or it
    /// is about to expire.
    private func csrfToken(policy: RetryPolicy) async throws -> String? {
        try await csrf.token(now: Date()) { [self] in
            let answer = try await send(.GET, "/csrf-token?client=\(csrf.clientId)", accepting: [404, 422], policy: policy)
            if answer.status == 404 || (answer.status == 422 && String(buffer: answer.body).contains("CSRF protection is disabled")) {
                return .disabled
            }
            if answer.status == 422 {
                throw PrefectAPIError.http(status: 422, route: "GET /csrf-token", detail: ErrorDetail.extract(from: answer.body))
            }
            let fields = try decode(JSONValue.self, answer, route: "GET /csrf-token")
            guard case .string(let token)? = fields["token"], case .string(let expiration)? = fields["expiration"],
                let expires = RFC3339.parse(expiration)
            else {
                throw PrefectAPIError.undecodable(route: "GET /csrf-token", reason: "no token and expiration in the answer")
            }
            return .token(token, expires: expires)
        }
    }

    /// Errors of a connection that was never made (refused, or connecting timed out): the request
    /// was not sent, so it cannot land later.
    static func neverSent(_ error: any Error) -> Bool {
        if let error = error as? HTTPClientError { return error == .connectTimeout }
        if let error = error as? IOError { return error.errnoCode == ECONNREFUSED }
        return false
    }

    /// Errors of a connection the peer closed (reset, EOF, write on a closed channel) before any
    /// answer came: what a reused keep-alive connection meets when the server closed it meanwhile.
    static func isClosedConnection(_ error: any Error) -> Bool {
        if let error = error as? HTTPClientError {
            return error == .remoteConnectionClosed
        }
        if let error = error as? ChannelError { return error == .ioOnClosedChannel || error == .eof || error == .alreadyClosed }
        if let error = error as? IOError { return [ECONNRESET, EPIPE].contains(error.errnoCode) }
        return false
    }

    func decode<T: Decodable>(_ type: T.Type, _ answer: Answer, route: String) throws -> T {
        do {
            return try JSONDecoder().decode(T.self, from: Data(answer.body.readableBytesView))
        } catch {
            throw PrefectAPIError.undecodable(route: route, reason: String(describing: error))
        }
    }
}
