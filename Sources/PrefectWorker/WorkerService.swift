import Foundation
import Logging
import PrefectAPI
import PrefectWorkerCore
import ProcessSupervisor
import ServiceLifecycle
import Systemd

/// The worker: registers with the pool, heartbeats, polls, and runs what it claims. On graceful
/// shutdown (the first SIGTERM or SIGINT) it stops claiming at once and keeps heartbeating while the
/// runs in flight finish; when the drain deadline passes, or a second signal asks for it, the runs
/// still in flight are stopped like a cancel and reported CRASHED (or handed back as SCHEDULED when
/// not started yet).
public struct WorkerService: Service {
    let api: any PrefectAPI
    let configuration: WorkerConfiguration
    let shutdown: ShutdownController
    let logs: LogSinks
    let notifier: SystemdNotifier
    let health = WorkerHealth()
    let metrics: WorkerMetrics
    let logger: Logger

    /// `metrics` should be the one whose factory the API client records into.
    public init(
        api: any PrefectAPI, configuration: WorkerConfiguration, shutdown: ShutdownController = ShutdownController(),
        logs: LogSinks, notifier: SystemdNotifier = SystemdNotifier(), metrics: WorkerMetrics = WorkerMetrics()
    ) {
        self.metrics = metrics
        self.api = api
        self.configuration = configuration
        self.shutdown = shutdown
        self.logs = logs
        self.notifier = notifier
        var logger = logs.workerLogger()
        logger[metadataKey: "work_pool"] = "\(configuration.poolName)"
        logger[metadataKey: "worker_name"] = "\(configuration.workerName)"
        self.logger = logger
    }

    public func run() async throws {
        let endpoint = try await startHealthEndpoint()
        defer { if let endpoint { Task { await endpoint.stop() } } }
        notifier.status(WorkerStatus.text(
            phase: .connecting, pool: configuration.poolName, inFlight: 0, limit: configuration.limit, health: LoopHealth(),
            healthy: false, now: Date()))
        do {
            // STOPPING=1 goes out the moment the stop begins; the notifier loop then keeps the stop
            // timeout extended while the runs in flight drain.
            try await withGracefulShutdownHandler {
                try await serve()
            } onGracefulShutdown: { [notifier, health, configuration] in
                health.startDraining()
                let status = "Stopping: claiming nothing new; waiting for the flow runs in flight"
                notifier.stopping(status: status)
                // The drain's own bound: the deadline, the teardown's grace, and time to report.
                notifier.extendTimeout(seconds: configuration.drainSeconds + configuration.cancelGraceSeconds + 30, status: status)
            }
        } catch is CancellationError {
            logger.info("worker stopped before it was registered")
        }
        await logs.runLogs.flushBeforeExit(api: api, logger: logger)
    }

    private func serve() async throws {
        let registrar = WorkPoolRegistrar(api: api, configuration: configuration, logger: logger)
        let pythonCheck = PythonCheck(python: configuration.python, environment: configuration.environment)
        await pythonCheck.start(logger: logger)
        if !(await api.isHealthy()) {
            logger.warning("Prefect server not reachable yet; waiting for it", metadata: ["api_url": "\(configuration.api.baseURL)"])
        }
        // A server that is down at start is waited for, however long.
        let pool = try await cancelWhenGracefulShutdown {
            try await registrar.ensurePool(retry: RetryPolicy(maxDelay: 10, maxRetries: nil), atStart: true)
        }
        let cache = WorkPoolCache(pool)
        let pollWake = WakeSignal()
        let watch = CredentialWatch(credentials: configuration.api.credentialKind) { pollWake.fire() }
        // Registered: from here on the server being busy or away never ends the worker (README,
        // "When the server is busy or away"); the first heartbeat is retried like every other.
        try await cancelWhenGracefulShutdown {
            while !(await heartbeat(registrar: registrar, cache: cache, watch: watch)) {
                if let reason = watch.fatalReason { throw WorkerError.credentialsRefused(reason) }
                try await sleepOnEventLoop(seconds: configuration.heartbeatSeconds)
            }
        }
        let events = EventEmitter(api: api, logger: logger)
        events.workerStarted(WorkerEvents(
            workerName: configuration.workerName, poolId: pool.id, poolName: configuration.poolName, version: PrefectWorkerVersion.current))
        notifier.ready(status: "Registered with pool '\(configuration.poolName)'; starting to poll")
        logger.info(
            "worker online",
            metadata: ["limit": "\(configuration.limit.map(String.init) ?? "none")",
                       "work_queues": "\(configuration.workQueues.joined(separator: ","))", "python": "\(configuration.python)"])

        let slots = RunSlots(limit: configuration.limit, maxRuns: configuration.maxRuns) { [health] count in health.inFlight(count) }
        let registry = RunRegistry()
        let controlChannel = EngineControlChannel(logger: logger)
        if !controlChannel.start() {
            logger.warning("could not open the engine control channel on 127.0.0.1; cancelled engine runs are stopped by signals only")
        }
        if !ChildReaper.shared.becomeSubreaper() {
            logger.warning("could not become a child subreaper; orphaned processes of a run are found by their environment only")
        }
        let ledger = configuration.stateDirectory.flatMap {
            RunLedger(stateDirectory: "\($0)/pools/\(Self.fileName(configuration.poolName))", logger: logger)
        }
        let claimPauses = ClaimPauses()
        let executor = FlowRunExecutor(
            api: api, configuration: configuration, poolCache: cache, registry: registry, controlChannel: controlChannel,
            ledger: ledger, logs: logs, events: events, metrics: metrics, claimPauses: claimPauses, pythonCheck: pythonCheck,
            logger: logger)
        let cancelWake = WakeSignal()
        await withTaskGroup(of: Void.self) { loops in
            loops.addTask { await heartbeatLoop(registrar: registrar, cache: cache, watch: watch) }
            loops.addTask { await cancellationLoop(registry: registry, wake: cancelWake, watch: watch) }
            if configuration.useEventStream && !configuration.runOnce {
                loops.addTask { await eventStreamLoop(cache: cache, pollWake: pollWake, cancelWake: cancelWake) }
            }
            loops.addTask { await logs.runLogs.run(api: api, logger: logger) }
            loops.addTask {
                // By then the first polls and the event stream subscription are done.
                try? await sleepOnEventLoop(seconds: 5)
                if !Task.isCancelled { releaseStartupPages() }
            }
            if notifier.isEnabled {
                loops.addTask { await notifierLoop(slots: slots) }
            }
            // Reconciling waits for the server; a stop meanwhile ends it (what is left stays in the ledger).
            let adopted = await cancelWhenGracefulShutdown { await executor.recover(logger: logger) }
            await withDiscardingTaskGroup { runs in
                for entry in adopted {
                    await slots.adopt(entry.flowRunId)
                    runs.addTask {
                        await executor.superviseAdopted(entry)
                        await slots.release(entry.flowRunId)
                    }
                }
                // A stop that arrived before the first poll claims nothing.
                let cadence = configuration.pollCadence
                while !Task.isShuttingDownGracefully && !Task.isCancelled && watch.fatalReason == nil {
                    let streamSubscribed = health.isEventStreamSubscribed
                    let polled = await cancelWhenGracefulShutdown {
                        await poll(
                            slots: slots, pauses: claimPauses, watch: watch,
                            lookaheadSeconds: cadence.lookaheadSeconds(streamSubscribed: streamSubscribed))
                    }
                    let (due, nextClaimAt) = cadence.split(polled, now: Date())
                    for scheduled in due where !claimPauses.isPaused(scheduled.flowRun.id) {
                        let id = scheduled.flowRun.id
                        guard await slots.reserve(id) else { continue }
                        runs.addTask {
                            await executor.execute(scheduled) { won in await slots.settle(won: won) }
                            await slots.release(id)
                            // A free slot (or a place in a --max-runs quota given back by a lost
                            // claim) takes the next due run now, not at the next interval. This
                            // cannot loop: a refused run is paused (`ClaimPauses`), so the poll
                            // it causes proposes nothing for it, and waits again.
                            pollWake.fire()
                        }
                    }
                    if configuration.runOnce { break }
                    if let reason = await ephemeralExit(slots: slots) {
                        logger.notice("\(reason): claiming nothing more; exiting once the runs in flight are done")
                        break
                    }
                    let wait = min(
                        cadence.wait(now: Date(), streamSubscribed: streamSubscribed, nextClaimAt: nextClaimAt),
                        await idleExitDeadline(slots: slots).map { max(0, $0.timeIntervalSinceNow) } ?? .infinity)
                    await cancelWhenGracefulShutdown { await pollWake.wait(upTo: wait) }
                }
                if let reason = watch.fatalReason {
                    logger.critical("\(reason); stopping")
                }
                let inFlight = await slots.count
                if inFlight > 0 {
                    logger.notice(
                        "stopped claiming; waiting for \(inFlight) flow run(s) in flight to finish",
                        metadata: ["drain_seconds": "\(configuration.drainSeconds)"])
                    loops.addTask {
                        // A stop signal (or refused credentials) bounds the wait by the drain
                        // deadline; --run-once and the ephemeral modes wait for their runs however
                        // long they take.
                        if watch.fatalReason == nil { try? await gracefulShutdown() }
                        if !Task.isCancelled { await enforceDrainDeadline(registry: registry) }
                    }
                }
            }
            loops.cancelAll()
        }
        await events.workerStopped()
        if let reason = watch.fatalReason { throw WorkerError.credentialsRefused(reason) }
        logger.info("worker stopped")
    }

    /// Why an ephemeral worker stops claiming now (`--max-runs` taken, `--exit-after-idle` reached), if it does.
    private func ephemeralExit(slots: RunSlots) async -> String? {
        if await slots.quota.isSpent, let maxRuns = configuration.maxRuns {
            return "took the \(maxRuns) flow run(s) of --max-runs"
        }
        if let idleExitAt = await idleExitDeadline(slots: slots), idleExitAt <= Date(), let idle = configuration.exitAfterIdleSeconds {
            return "idle for \(idle) s (--exit-after-idle)"
        }
        return nil
    }

    /// When `--exit-after-idle` ends the worker if nothing comes; nil while runs are in flight.
    private func idleExitDeadline(slots: RunSlots) async -> Date? {
        guard let idle = configuration.exitAfterIdleSeconds, let since = await slots.idleSince else { return nil }
        return since.addingTimeInterval(idle)
    }

    /// `--with-healthcheck` / `--with-metrics`: `/metrics` from the metrics, the rest from the
    /// loops' health as it is at each request.
    private func startHealthEndpoint() async throws -> HealthEndpoint? {
        guard let address = configuration.healthcheck else { return nil }
        let cadence = configuration.pollCadence
        let endpoint = try await HealthEndpoint.start(host: address.host, port: address.port) { [health, metrics, configuration] method, uri in
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
        logger.info("web server listening (/health, /health/live, /health/ready, /metrics)", metadata: ["address": "\(address.host):\(endpoint.port ?? address.port)"])
        return endpoint
    }

    /// Once started, start-up's pages go back to the kernel (see `StartupPages`).
    private func releaseStartupPages() {
        let (before, after) = StartupPages.release()
        logger.debug("released start-up pages", metadata: ["resident_file_kb_before": "\(before)", "resident_file_kb_after": "\(after)"])
    }

    /// A pool name as one safe path component.
    static func fileName(_ name: String) -> String {
        String(name.map { $0.isLetter || $0.isNumber || "-_.".contains($0) ? $0 : "_" })
    }

    private var heartbeatInterval: Int { max(1, Int(configuration.heartbeatSeconds.rounded())) }

    /// One poll: the runs due before now + prefetch (+ lookahead), at most as many as there are free
    /// slots, plus as many as are paused after refused claims (the server returns the oldest first,
    /// so paused runs must not crowd out the others). Retried while the server is busy or away,
    /// never waiting longer than the poll interval between attempts.
    private func poll(slots: RunSlots, pauses: ClaimPauses, watch: CredentialWatch, lookaheadSeconds: Double) async -> [ScheduledFlowRun] {
        guard let plan = PollPlan.make(
            now: Date(), prefetchSeconds: configuration.prefetchSeconds + lookaheadSeconds, limit: await slots.capacity,
            inFlight: 0)
        else {
            health.pollSucceeded()  // every slot is busy: not polling is the loop doing its job
            return []
        }
        do {
            let runs = try await api.scheduledFlowRuns(
                pool: configuration.poolName, queues: configuration.workQueues, scheduledBefore: plan.scheduledBefore,
                limit: plan.limit.map { $0 + min(pauses.pausedCount(), 100) },
                retry: .periodic(every: configuration.pollCadence.querySeconds))
            watch.answered()
            health.pollSucceeded()
            return runs
        } catch is CancellationError {
            return []
        } catch {
            watch.failed(error)
            logger.warning("poll failed: \(error)")
            return []
        }
    }

    /// Waits for the drain deadline or a second signal, then stops every run still in flight.
    private func enforceDrainDeadline(registry: RunRegistry) async {
        let deadline = Date().addingTimeInterval(configuration.drainSeconds)
        while !Task.isCancelled, Date() < deadline, !shutdown.isCutRequested {
            try? await Task.sleep(nanoseconds: 100_000_000)
        }
        if Task.isCancelled { return }
        let stopped = await registry.stopAll()
        shutdown.recordCut(runs: stopped)
        logger.warning(
            shutdown.isCutRequested ? "second stop signal: stopping \(stopped) flow run(s) in flight now"
                : "drain deadline of \(configuration.drainSeconds) s passed: stopping \(stopped) flow run(s) in flight")
    }

    /// At once when the event stream tells of a cancel, and every poll interval (see `PollCadence`)
    /// in any case, one request asks which of the runs in flight are CANCELLING, and wakes their
    /// executors (docs/prefect-worker-protocol.md §2.6: the pool-independent, id-restricted filter). With nothing in
    /// flight it sleeps.
    private func cancellationLoop(registry: RunRegistry, wake: WakeSignal, watch: CredentialWatch) async {
        let cadence = configuration.pollCadence
        while !Task.isCancelled {
            if await registry.ids.isEmpty {
                await registry.firstRegistered.wait(upTo: 3600)
                continue
            }
            await wake.wait(upTo: cadence.interval(streamSubscribed: health.isEventStreamSubscribed))
            let ids = await registry.ids
            if Task.isCancelled { return }
            guard !ids.isEmpty else { continue }
            do {
                let cancelling = try await api.cancellingFlowRuns(
                    ids: ids, retry: .periodic(every: cadence.interval(streamSubscribed: health.isEventStreamSubscribed)))
                watch.answered()
                for run in cancelling where await registry.requestCancel(run.id) {
                    logger.notice("flow run is CANCELLING", metadata: ["flow_run_id": "\(run.id)", "flow_run_name": "\(run.name)"])
                }
            } catch is CancellationError {
                return
            } catch {
                watch.failed(error)
                logger.warning("could not check for cancellations: \(error)")
            }
        }
    }

    /// Heartbeat, then refresh the pool (its template, and re-create or repair it if needed).
    private func heartbeatLoop(registrar: WorkPoolRegistrar, cache: WorkPoolCache, watch: CredentialWatch) async {
        while !Task.isCancelled {
            try? await sleepOnEventLoop(seconds: configuration.heartbeatSeconds)
            if Task.isCancelled { return }
            guard await heartbeat(registrar: registrar, cache: cache, watch: watch) else { continue }
            do {
                await cache.update(try await registrar.ensurePool(retry: RetryPolicy(maxRetries: 2)))
            } catch is CancellationError {
                return
            } catch {
                logger.warning("could not refresh the work pool: \(error)")
            }
        }
    }

    /// One heartbeat, retried while the server is busy or away (never waiting longer than the
    /// heartbeat interval between attempts); false when it failed for a reason a retry cannot fix.
    /// A pool that is gone (404) is re-created (or found) right away, so the next one lands.
    private func heartbeat(registrar: WorkPoolRegistrar, cache: WorkPoolCache, watch: CredentialWatch) async -> Bool {
        do {
            try await api.sendHeartbeat(
                pool: configuration.poolName, worker: configuration.workerName, intervalSeconds: heartbeatInterval,
                retry: .periodic(every: configuration.heartbeatSeconds))
            watch.answered()
            health.heartbeatSucceeded()
            return true
        } catch is CancellationError {
            return false
        } catch {
            watch.failed(error)
            logger.warning("heartbeat failed: \(error)")
            if (error as? PrefectAPIError)?.status == 404, let pool = try? await registrar.ensurePool(retry: RetryPolicy(maxRetries: 2)) {
                await cache.update(pool)
            }
            return false
        }
    }

    /// Tells systemd how the worker is doing: STATUS= when it changes, WATCHDOG=1 (every half of
    /// `WATCHDOG_USEC`) only while the heartbeat and poll loops are healthy, and while draining
    /// EXTEND_TIMEOUT_USEC so a drain that makes progress is not cut by the stop timeout.
    private func notifierLoop(slots: RunSlots) async {
        let pingInterval = notifier.watchdogPingInterval
        let tick = min(pingInterval ?? 1, 1)
        var lastPing = Date.distantPast
        var lastExtend = Date.distantPast
        var lastStatus = ""
        while !Task.isCancelled {
            let now = Date()
            let snapshot = health.snapshot
            let healthy = snapshot.isHealthy(
                now: now, heartbeatSeconds: configuration.heartbeatSeconds,
                querySeconds: configuration.pollCadence
                    .interval(streamSubscribed: health.isEventStreamSubscribed))
            let status = WorkerStatus.text(
                phase: snapshot.isDraining ? .draining : .serving, pool: configuration.poolName, inFlight: await slots.count,
                limit: configuration.limit, health: snapshot, healthy: healthy, now: now)
            if snapshot.isDraining, now.timeIntervalSince(lastExtend) >= 5 {
                notifier.extendTimeout(seconds: 15, status: status)
                lastExtend = now
                lastStatus = status
            } else if status != lastStatus {
                notifier.status(status)
                lastStatus = status
            }
            if let pingInterval, healthy, now.timeIntervalSince(lastPing) >= pingInterval - tick / 2 {
                notifier.watchdog()
                lastPing = now
            }
            try? await sleepOnEventLoop(seconds: tick)
        }
    }
}
