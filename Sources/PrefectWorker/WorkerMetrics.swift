import CoreMetrics
import FoundationEssentials
import PrefectAPI
import PrefectWorkerCore
import Prometheus

/// The worker's Prometheus metrics (`/metrics`): recorded through swift-metrics into a registry of
/// its own (no global bootstrap, so several workers in one test process do not mix), exported in
/// Prometheus's text format. Values that are states rather than events (in flight, last poll,
/// resident memory) are read when scraped.
public final class WorkerMetrics: Sendable {
    let registry = PrometheusCollectorRegistry()
    /// Where the API client and the executor record.
    public let factory: PrometheusMetricsFactory

    private let claimed: CoreMetrics.Counter
    private let claimAborts: CoreMetrics.Counter
    private let started: CoreMetrics.Counter
    private let cancellations: CoreMetrics.Counter
    private let outputWritten: CoreMetrics.Counter
    private let outputDropped: CoreMetrics.Counter
    private let claimToSpawn: CoreMetrics.Timer

    public init() {
        var factory = PrometheusMetricsFactory(registry: registry)
        factory.durationHistogramBuckets["prefect_worker_claim_to_spawn_seconds"] = [
            .milliseconds(10), .milliseconds(25), .milliseconds(50), .milliseconds(100), .milliseconds(250),
            .milliseconds(500), .seconds(1), .milliseconds(2500), .seconds(5), .seconds(10), .seconds(30), .seconds(60),
        ]
        self.factory = factory
        claimed = CoreMetrics.Counter(label: "prefect_worker_flow_runs_claimed_total", factory: factory)
        claimAborts = CoreMetrics.Counter(label: "prefect_worker_flow_run_claim_aborts_total", factory: factory)
        started = CoreMetrics.Counter(label: "prefect_worker_flow_runs_started_total", factory: factory)
        cancellations = CoreMetrics.Counter(label: "prefect_worker_flow_run_cancellations_total", factory: factory)
        outputWritten = CoreMetrics.Counter(label: "prefect_worker_output_lines_written_total", factory: factory)
        outputDropped = CoreMetrics.Counter(label: "prefect_worker_output_lines_dropped_total", factory: factory)
        claimToSpawn = CoreMetrics.Timer(label: "prefect_worker_claim_to_spawn_seconds", factory: factory)
        // Prometheus's info-metric convention: a constant 1 whose labels say what is running.
        registry.makeGauge(
            name: "prefect_worker_build_info",
            labels: [("version", PrefectWorkerVersion.current), ("commit", PrefectWorkerVersion.gitCommit)]
        ).set(Double(1))
    }

    /// A claim the server accepted: the run is this worker's.
    func runClaimed() { claimed.increment() }
    /// A claim that did not win the run (another worker's, no longer scheduled, or unanswered).
    func claimAborted() { claimAborts.increment() }
    /// The run's process was started, `latency` after its claim was accepted.
    func runStarted(claimToSpawn latency: Duration) {
        started.increment()
        let (seconds, attoseconds) = latency.components
        claimToSpawn.recordNanoseconds(seconds * 1_000_000_000 + attoseconds / 1_000_000_000)
    }
    /// A claimed run left this worker in `state` (nil: the worker could not learn it).
    func runFinished(in state: StateType?) {
        CoreMetrics.Counter(label: "prefect_worker_flow_runs_finished_total", dimensions: [("state", state?.rawValue ?? "UNKNOWN")], factory: factory)
            .increment()
    }
    /// A cancel request acted on (process stopped, or the run cancelled before it started).
    func cancellationHandled() { cancellations.increment() }
    func outputLineWritten() { outputWritten.increment() }
    func outputLinesDropped(_ count: Int) { if count > 0 { outputDropped.increment(by: count) } }

    /// What the worker is doing right now, read at every scrape.
    struct Snapshot {
        var inFlight: Int
        var limit: Int?
        var health: LoopHealth
    }

    /// The exposition text (Prometheus text format 0.0.4) with the state gauges as of `snapshot`.
    func exposition(_ snapshot: Snapshot) -> String {
        registry.makeGauge(name: "prefect_worker_flow_runs_in_flight").set(Double(snapshot.inFlight))
        if let limit = snapshot.limit { registry.makeGauge(name: "prefect_worker_flow_run_limit").set(Double(limit)) }
        if let beat = snapshot.health.lastHeartbeat {
            registry.makeGauge(name: "prefect_worker_last_heartbeat_timestamp_seconds").set(beat.timeIntervalSince1970)
        }
        if let poll = snapshot.health.lastPoll {
            registry.makeGauge(name: "prefect_worker_last_poll_timestamp_seconds").set(poll.timeIntervalSince1970)
        }
        registry.makeGauge(name: "process_resident_memory_bytes").set(Double(ProcessStatus.kilobytes("VmRSS") * 1024))
        return registry.emitToString()
    }

}
