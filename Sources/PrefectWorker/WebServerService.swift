import FoundationEssentials
import PrefectWorkerCore
import ServiceLifecycle

/// `--with-healthcheck` / `--with-metrics`: the web server (`/health`, `/health/live`,
/// `/health/ready`, `/metrics`), up from the start (a probe sees "connecting") until everything
/// else has stopped. `/metrics` comes from the metrics, the rest from the loops' health as it is
/// at each request. It listens before the services start (`listen`), so an address in use stops
/// the worker with one line before anything else happens.
struct WebServerService: Service {
    let endpoint: HealthEndpoint?

    func run() async throws {
        try? await gracefulShutdown()
        await endpoint?.stop()
    }

    /// Listens on the configured address; nil when the web server is off.
    static func listen(_ parts: WorkerParts) async throws -> HealthEndpoint? {
        guard let address = parts.configuration.healthcheck else { return nil }
        let (health, metrics, configuration) = (parts.health, parts.metrics, parts.configuration)
        let cadence = configuration.pollCadence
        let endpoint = try await HealthEndpoint.start(host: address.host, port: address.port) { method, uri in
            if uri.split(separator: "?", maxSplits: 1).first == "/metrics" {
                guard method == "GET" || method == "HEAD" else { return WebAnswer(status: 405, contentType: "text/plain", body: "only GET\n") }
                let text = metrics.exposition(.init(inFlight: health.inFlight, limit: configuration.limit, health: health.snapshot))
                return WebAnswer(status: 200, contentType: "text/plain; version=0.0.4; charset=utf-8", body: text)
            }
            let facts = HealthReport.Facts(
                health: health.snapshot, now: Date(), heartbeatSeconds: configuration.heartbeatSeconds,
                pollSeconds: cadence.interval(streamSubscribed: health.isEventStreamSubscribed), inFlight: health.inFlight,
                limit: configuration.limit, startedAt: health.startedAt, querySeconds: configuration.querySeconds,
                livenessPollIntervals: configuration.healthPollIntervals)
            let answer = HealthReport.answer(method: method, path: uri, facts: facts)
            return WebAnswer(status: answer.status, contentType: "application/json", body: answer.body.compactJSONText + "\n")
        }
        parts.logger.info(
            "web server listening (/health, /health/live, /health/ready, /metrics)",
            metadata: ["address": "\(address.host):\(endpoint.port ?? address.port)"])
        return endpoint
    }
}
