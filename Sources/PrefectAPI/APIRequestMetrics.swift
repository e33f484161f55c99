import CoreMetrics
import PrefectWorkerCore

/// What every request of the API client adds to the worker's metrics (swift-metrics; the worker
/// exports them at `/metrics`): one count per attempt by route and status code ("error" when no
/// answer came), the failed attempts by route, and the time each attempt took.
struct APIRequestMetrics: Sendable {
    let factory: any MetricsFactory

    func record(method: String, path: String, status: Int?, failed: Bool, duration: Duration) {
        let route = APIRoute.template(method: method, path: path)
        Counter(
            label: "prefect_worker_api_requests_total",
            dimensions: [("route", route), ("code", status.map(String.init) ?? "error")], factory: factory
        ).increment()
        if failed {
            Counter(label: "prefect_worker_api_request_errors_total", dimensions: [("route", route)], factory: factory).increment()
        }
        let (seconds, attoseconds) = duration.components
        CoreMetrics.Timer(label: "prefect_worker_api_request_duration_seconds", dimensions: [("route", route)], factory: factory)
            .recordNanoseconds(seconds * 1_000_000_000 + attoseconds / 1_000_000_000)
    }
}
