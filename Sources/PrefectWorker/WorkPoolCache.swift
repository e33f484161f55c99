import Logging
import PrefectAPI
import PrefectWorkerCore

/// The latest pool read, shared by the heartbeat loop and the event stream listener (which
/// refresh it) and the runs (which render its template); with when it was read, for
/// `PoolRefreshCadence`.
actor WorkPoolCache {
    private(set) var pool: WorkPool
    /// When the last successful read was made; nil when a read failed since.
    private(set) var readAt: ContinuousClock.Instant?

    init(_ pool: WorkPool, readAt: ContinuousClock.Instant) {
        self.pool = pool
        self.readAt = readAt
    }

    func update(_ pool: WorkPool, readAt: ContinuousClock.Instant) {
        self.pool = pool
        self.readAt = readAt
    }

    /// A read failed: the next heartbeat reads the pool again.
    func markStale() {
        readAt = nil
    }
}

extension RegisteredPool {
    /// Reads the pool again (re-created or repaired when it was deleted or emptied) into the
    /// cache; when that fails, says so and leaves the read to the next heartbeat.
    func refresh(clock: any WorkerClock, logger: Logger) async {
        do {
            let pool = try await registrar.ensurePool(retry: RetryPolicy(maxRetries: 2))
            await cache.update(pool, readAt: clock.now)
        } catch {
            await cache.markStale()
            if !(error is CancellationError) { logger.warning("could not refresh the work pool: \(error)") }
        }
    }
}
