import FoundationEssentials
import Logging
import PrefectAPI
import PrefectWorkerCore
import ServiceLifecycle

/// Registers the worker with its pool (waiting for a server that is down at start, however long),
/// sends the first heartbeat, announces the worker (event, READY=1, "worker online"), then
/// heartbeats every `heartbeat_seconds` and keeps the pool current (read again as
/// `PoolRefreshCadence` says; re-created or repaired when it was deleted or emptied). Stops last
/// but for the emitter, log shipper and web server, so the server sees the worker alive while its
/// runs drain.
struct HeartbeatService: Service {
    let parts: WorkerParts

    func run() async throws {
        let (api, configuration, logger) = (parts.api, parts.configuration, parts.logger)
        let registrar = WorkPoolRegistrar(api: api, configuration: configuration, logger: logger)
        let registered: RegisteredPool
        do {
            // A stop while the server does not answer ends the wait at once.
            let healthy = await cancelWhenGracefulShutdown { await api.isHealthy() }
            try Task.checkCancellation()
            if !healthy, !Task.isShuttingDownGracefully {
                logger.warning("Prefect server not reachable yet; waiting for it", metadata: ["api_url": "\(configuration.api.baseURL)"])
            }
            // A server that is down at start is waited for, however long.
            let pool = try await cancelWhenGracefulShutdown {
                try await registrar.ensurePool(retry: RetryPolicy(maxDelay: 10, maxRetries: nil), atStart: true)
            }
            registered = RegisteredPool(registrar: registrar, cache: WorkPoolCache(pool, readAt: parts.clock.now))
            // Registered: from here on the server being busy or away never ends the worker (README,
            // "When the server is busy or away"); the first heartbeat is retried like every other.
            try await cancelWhenGracefulShutdown {
                while !(await heartbeat(registered)) {
                    if let reason = parts.watch.fatalReason { throw WorkerError.credentialsRefused(reason) }
                    try await parts.clock.sleep(seconds: configuration.heartbeatSeconds)
                }
            }
        } catch is CancellationError {
            logger.info("worker stopped before it was registered")
            return
        }
        let pool = await registered.cache.pool
        parts.events.workerStarted(WorkerEvents(
            workerName: configuration.workerName, poolId: pool.id, poolName: configuration.poolName, version: PrefectWorkerVersion.current))
        parts.notifier.ready(status: "Registered with pool '\(configuration.poolName)'; starting to poll")
        logger.info(
            "worker online",
            metadata: ["limit": "\(configuration.limit.map(String.init) ?? "none")",
                       "work_queues": "\(configuration.workQueues.joined(separator: ","))", "python": "\(configuration.python)"])
        parts.registration.complete(registered)
        // By then the first polls and the event stream subscription are done (see `StartupPages`).
        let pageRelease = parts.clock.schedule(after: .seconds(5)) { [logger] in
            let (before, after) = StartupPages.release()
            logger.debug("released start-up pages", metadata: ["resident_file_kb_before": "\(before)", "resident_file_kb_after": "\(after)"])
        }
        defer { pageRelease.cancel() }
        await cancelWhenGracefulShutdown { await heartbeatLoop(registered) }
    }

    private var heartbeatInterval: Int { max(1, Int(parts.configuration.heartbeatSeconds.rounded())) }

    /// Heartbeat, then read the pool again when `PoolRefreshCadence` says so (its template, and
    /// re-create or repair it if needed).
    private func heartbeatLoop(_ registered: RegisteredPool) async {
        while !Task.isCancelled {
            do { try await parts.clock.sleep(seconds: parts.configuration.heartbeatSeconds) } catch { return }
            guard await heartbeat(registered) else { continue }
            let sinceRead = await registered.cache.readAt.map { (parts.clock.now - $0).inSeconds }
            if PoolRefreshCadence.heartbeatReads(streamSubscribed: parts.health.isEventStreamSubscribed, secondsSinceRead: sinceRead) {
                await registered.refresh(clock: parts.clock, logger: parts.logger)
            }
        }
    }

    /// One heartbeat, retried while the server is busy or away (never waiting longer than the
    /// heartbeat interval between attempts); false when it failed for a reason a retry cannot fix.
    /// A pool that is gone (404) is re-created (or found) right away, so the next one lands.
    private func heartbeat(_ registered: RegisteredPool) async -> Bool {
        let configuration = parts.configuration
        do {
            try await parts.api.sendHeartbeat(
                pool: configuration.poolName, worker: configuration.workerName, intervalSeconds: heartbeatInterval,
                retry: .periodic(every: configuration.heartbeatSeconds))
            parts.watch.answered()
            parts.health.heartbeatSucceeded()
            return true
        } catch is CancellationError {
            return false
        } catch {
            parts.watch.failed(error)
            parts.logger.warning("heartbeat failed: \(error)")
            if (error as? PrefectAPIError)?.status == 404 { await registered.refresh(clock: parts.clock, logger: parts.logger) }
            return false
        }
    }
}
