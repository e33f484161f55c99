import Foundation
import Logging
import PrefectAPI
import PrefectWorkerCore
import ProcessSupervisor
import ServiceLifecycle

/// The worker: registers with the pool, heartbeats, polls, and runs what it claims. On graceful
/// shutdown (the first SIGTERM or SIGINT) it stops claiming at once and keeps heartbeating while the
/// runs in flight finish; when the drain deadline passes, or a second signal asks for it, the runs
/// still in flight are stopped like a cancel and reported CRASHED (or handed back as SCHEDULED when
/// not started yet).
public struct WorkerService: Service {
    let api: any PrefectAPI
    let configuration: WorkerConfiguration
    let shutdown: ShutdownController
    let logger: Logger

    public init(api: any PrefectAPI, configuration: WorkerConfiguration, shutdown: ShutdownController = ShutdownController(), logger: Logger) {
        self.api = api
        self.configuration = configuration
        self.shutdown = shutdown
        var logger = logger
        logger[metadataKey: "work_pool"] = "\(configuration.poolName)"
        logger[metadataKey: "worker"] = "\(configuration.workerName)"
        self.logger = logger
    }

    public func run() async throws {
        do {
            try await serve()
        } catch is CancellationError {
            logger.info("worker stopped before it was registered")
        }
    }

    private func serve() async throws {
        let registrar = WorkPoolRegistrar(api: api, configuration: configuration, logger: logger)
        if !(await api.isHealthy()) {
            logger.warning("Prefect server not reachable yet; waiting for it", metadata: ["api_url": "\(configuration.api.baseURL)"])
        }
        // A server that is down at start is waited for, however long.
        let pool = try await cancelWhenGracefulShutdown {
            try await registrar.ensurePool(retry: RetryPolicy(maxDelay: 10, maxRetries: nil))
        }
        let cache = WorkPoolCache(pool)
        try await cancelWhenGracefulShutdown {
            try await api.sendHeartbeat(pool: configuration.poolName, worker: configuration.workerName, intervalSeconds: heartbeatInterval)
        }
        logger.info(
            "worker online",
            metadata: ["limit": "\(configuration.limit.map(String.init) ?? "none")",
                       "work_queues": "\(configuration.workQueues.joined(separator: ","))"])

        let slots = RunSlots(limit: configuration.limit)
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
        let executor = FlowRunExecutor(
            api: api, configuration: configuration, poolCache: cache, registry: registry, controlChannel: controlChannel,
            ledger: ledger, logger: logger)
        // Reconciling waits for the server; a stop meanwhile ends it (what is left stays in the ledger).
        let adopted = (try? await cancelWhenGracefulShutdown { await executor.recover(logger: logger) }) ?? []
        await withTaskGroup(of: Void.self) { loops in
            loops.addTask { await heartbeatLoop(registrar: registrar, cache: cache) }
            loops.addTask { await cancellationLoop(registry: registry) }
            await withDiscardingTaskGroup { runs in
                for entry in adopted {
                    await slots.adopt(entry.flowRunId)
                    runs.addTask {
                        await executor.superviseAdopted(entry)
                        await slots.release(entry.flowRunId)
                    }
                }
                // A stop that arrived before the first poll claims nothing.
                while !Task.isShuttingDownGracefully && !Task.isCancelled {
                    for scheduled in await poll(slots: slots) {
                        let id = scheduled.flowRun.id
                        guard await slots.reserve(id) else { continue }
                        runs.addTask {
                            await executor.execute(scheduled)
                            await slots.release(id)
                        }
                    }
                    if configuration.runOnce { break }
                    try? await cancelWhenGracefulShutdown {
                        try await Task.sleep(nanoseconds: UInt64(configuration.querySeconds * 1_000_000_000))
                    }
                }
                let inFlight = await slots.count
                if inFlight > 0 {
                    logger.notice(
                        "stopped claiming; waiting for \(inFlight) flow run(s) in flight to finish",
                        metadata: ["drain_seconds": "\(configuration.drainSeconds)"])
                    loops.addTask { await enforceDrainDeadline(registry: registry) }
                }
            }
            loops.cancelAll()
        }
        logger.info("worker stopped")
    }

    /// A pool name as one safe path component.
    static func fileName(_ name: String) -> String {
        String(name.map { $0.isLetter || $0.isNumber || "-_.".contains($0) ? $0 : "_" })
    }

    private var heartbeatInterval: Int { max(1, Int(configuration.heartbeatSeconds.rounded())) }

    /// One poll: the runs due before now + prefetch, at most as many as there are free slots.
    private func poll(slots: RunSlots) async -> [ScheduledFlowRun] {
        guard let plan = PollPlan.make(
            now: Date(), prefetchSeconds: configuration.prefetchSeconds, limit: configuration.limit, inFlight: await slots.count)
        else { return [] }
        do {
            return try await api.scheduledFlowRuns(
                pool: configuration.poolName, queues: configuration.workQueues, scheduledBefore: plan.scheduledBefore,
                limit: plan.limit)
        } catch is CancellationError {
            return []
        } catch {
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

    /// Every query interval, one request asks which of the runs in flight are CANCELLING, and wakes
    /// their executors (protocol doc 2.6: the pool-independent, id-restricted filter).
    private func cancellationLoop(registry: RunRegistry) async {
        while !Task.isCancelled {
            try? await Task.sleep(nanoseconds: UInt64(configuration.querySeconds * 1_000_000_000))
            let ids = await registry.ids
            if Task.isCancelled { return }
            guard !ids.isEmpty else { continue }
            do {
                for run in try await api.cancellingFlowRuns(ids: ids) where await registry.requestCancel(run.id) {
                    logger.notice("flow run is CANCELLING", metadata: ["flow_run_id": "\(run.id)", "flow_run_name": "\(run.name)"])
                }
            } catch is CancellationError {
                return
            } catch {
                logger.warning("could not check for cancellations: \(error)")
            }
        }
    }

    /// Heartbeat, then refresh the pool (its template, and re-create or repair it if needed).
    private func heartbeatLoop(registrar: WorkPoolRegistrar, cache: WorkPoolCache) async {
        while !Task.isCancelled {
            try? await Task.sleep(nanoseconds: UInt64(configuration.heartbeatSeconds * 1_000_000_000))
            if Task.isCancelled { return }
            do {
                try await api.sendHeartbeat(pool: configuration.poolName, worker: configuration.workerName, intervalSeconds: heartbeatInterval)
                await cache.update(try await registrar.ensurePool(retry: RetryPolicy(maxRetries: 2)))
            } catch is CancellationError {
                return
            } catch {
                logger.warning("heartbeat failed: \(error)")
            }
        }
    }
}
