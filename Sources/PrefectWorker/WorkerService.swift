import FoundationEssentials
import Logging
import PrefectAPI
import PrefectWorkerCore
import ServiceLifecycle
import Systemd

/// The worker: the tree of its services (docs/architecture.md, "The service tree"). They start in
/// the order listed and stop in reverse: on the first SIGTERM or SIGINT the poll loop stops
/// claiming and drains the runs in flight while heartbeats, cancellation checks, logs, the systemd
/// status and the web server keep going; when the drain deadline passes, or a second signal cuts
/// it (`Drain`), the runs still in flight are stopped and reported CRASHED (or handed back as
/// SCHEDULED when not started yet). Then the rest stop, the web server last.
public struct WorkerService: Service {
    let parts: WorkerParts

    /// `metrics` should be the one whose factory the API client records into.
    public init(
        api: any PrefectAPI, configuration: WorkerConfiguration, clock: any WorkerClock = EventLoopClock(), drain: Drain? = nil,
        logs: LogSinks, notifier: SystemdNotifier = SystemdNotifier(), metrics: WorkerMetrics = WorkerMetrics()
    ) {
        var logger = logs.workerLogger()
        logger[metadataKey: "work_pool"] = "\(configuration.poolName)"
        logger[metadataKey: "worker_name"] = "\(configuration.workerName)"
        parts = WorkerParts(
            api: api, configuration: configuration, clock: clock, drain: drain ?? Drain(clock: clock), logs: logs, notifier: notifier,
            metrics: metrics, logger: logger)
    }

    /// Start order; the stop goes the other way.
    static func services(_ parts: WorkerParts, webServer: HealthEndpoint? = nil) -> [any Service] {
        [
            WebServerService(endpoint: webServer),
            RunLogShipping(parts: parts),
            EventEmission(parts: parts),
            HeartbeatService(parts: parts),
            SystemdStatusService(parts: parts),
            EventStreamListener(parts: parts),
            CancellationWatcher(parts: parts),
            PollLoop(parts: parts),
        ]
    }

    public func run() async throws {
        let (configuration, notifier, health, logger) = (parts.configuration, parts.notifier, parts.health, parts.logger)
        let webServer = try await WebServerService.listen(parts)
        notifier.status(WorkerStatus.text(
            phase: .connecting, pool: configuration.poolName, inFlight: 0, limit: configuration.limit, health: LoopHealth(),
            healthy: false, now: Date()))
        await parts.pythonCheck.start(logger: logger)
        let services = Self.services(parts, webServer: webServer).map { service in
            // The poll loop ends by itself in the ephemeral modes (and on refused credentials): the rest then stop too.
            ServiceGroupConfiguration.ServiceConfiguration(
                service: service, successTerminationBehavior: service is PollLoop ? .gracefullyShutdownGroup : .ignore)
        }
        let group = ServiceGroup(configuration: .init(services: services, logger: logger))
        // STOPPING=1 goes out the moment the stop begins; the systemd status service then keeps the
        // stop timeout extended while the runs in flight drain.
        try await withGracefulShutdownHandler {
            try await group.run()
        } onGracefulShutdown: {
            health.startDraining()
            let status = "Stopping: claiming nothing new; waiting for the flow runs in flight"
            notifier.stopping(status: status)
            // The drain's own bound: the deadline, the teardown's grace, on_crashed hooks of a run
            // stopped then, and time to report.
            notifier.extendTimeout(
                seconds: configuration.drainSeconds + configuration.cancelGraceSeconds + configuration.crashedHooksSeconds + 30, status: status)
        }
        if let reason = parts.watch.fatalReason { throw WorkerError.credentialsRefused(reason) }
        if parts.registration.isComplete { logger.info("worker stopped") }
    }

    /// How many runs were stopped because the worker stopped before they finished.
    public var cutRuns: Int { parts.drain.cutRuns }
}
