import FoundationEssentials
import PrefectWorkerCore
import ServiceLifecycle

/// Tells systemd how the worker is doing: STATUS= when it changes, WATCHDOG=1 (every half of
/// `WATCHDOG_USEC`) only while the heartbeat and poll loops are healthy, and while draining
/// EXTEND_TIMEOUT_USEC so a drain that makes progress is not cut by the stop timeout. Without
/// `NOTIFY_SOCKET` it only waits for the stop.
struct SystemdStatusService: Service {
    let parts: WorkerParts

    func run() async throws {
        // Until registered, the status says "connecting" (set when the worker starts).
        guard parts.notifier.isEnabled, await cancelWhenGracefulShutdown({ await parts.registration.wait() }) != nil else {
            try? await gracefulShutdown()
            return
        }
        await cancelWhenGracefulShutdown { await statusLoop() }
    }

    private func statusLoop() async {
        let (notifier, health, configuration) = (parts.notifier, parts.health, parts.configuration)
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
                querySeconds: configuration.pollCadence.interval(streamSubscribed: health.isEventStreamSubscribed))
            let status = WorkerStatus.text(
                phase: snapshot.isDraining ? .draining : .serving, pool: configuration.poolName, inFlight: await parts.slots.count,
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
            do { try await parts.clock.sleep(seconds: tick) } catch { return }
        }
    }
}
