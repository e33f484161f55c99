import FoundationEssentials
import Logging
import PrefectAPI
import PrefectWorkerCore
import ServiceLifecycle

/// Keeps a subscription to the server's event stream open: a run scheduled in the pool wakes
/// the poll loop, a run set CANCELLING wakes the cancellation watcher, so neither waits for its
/// interval; a change of the pool has it read again at once (then the heartbeat reads it only
/// rarely, see `PoolRefreshCadence`). Polling goes on underneath (every 30 s while subscribed,
/// see `PollCadence`, every query interval otherwise); a stream that fails is retried with a
/// backoff up to 60 s and only its first failure in a row is a warning. Off with `--no-event-stream` and `--run-once`.
struct EventStreamListener: Service {
    let parts: WorkerParts

    func run() async throws {
        let configuration = parts.configuration
        guard configuration.useEventStream, !configuration.runOnce,
            let registered = await cancelWhenGracefulShutdown({ await parts.registration.wait() })
        else {
            try? await gracefulShutdown()
            return
        }
        await cancelWhenGracefulShutdown { await listen(registered) }
    }

    private func listen(_ registered: RegisteredPool) async {
        let (logger, health, pollWake, cancelWake) = (parts.logger, parts.health, parts.pollWake, parts.cancelWake)
        let stream = PrefectEventStream(configuration: parts.configuration.api, clock: parts.clock)
        var failures = 0
        while !Task.isCancelled {
            // The pool's id as last read: a pool deleted and created again is followed at the next connection.
            let subscription = EventSubscription(poolId: await registered.cache.pool.id)
            let connected = parts.clock.now
            do {
                try await stream.run(subscription) {
                    logger.info("subscribed to the event stream", metadata: ["replay_seconds": "\(subscription.replaySeconds)"])
                    health.eventStreamSubscribed(true)
                    // What the worker may have missed while it was not listening: from here on the
                    // pool's changes come as events (`PoolRefreshCadence`).
                    await registered.refresh(clock: parts.clock, logger: logger)
                    pollWake.fire()
                    cancelWake.fire()
                } onMessage: { message in
                    switch message {
                    case .scheduled: pollWake.fire()
                    case .poolChanged(let event):
                        logger.debug("the pool changed; polling now", metadata: ["event": "\(event)"])
                        // Its new template is read before the poll that may claim runs with it.
                        if message.changesThePool { await registered.refresh(clock: parts.clock, logger: logger) }
                        pollWake.fire()
                    case .cancelling: cancelWake.fire()
                    case .authSuccess, .other: break
                    }
                }
            } catch is CancellationError {
                return
            } catch {
                if Task.isCancelled { return }
                // A connection that got as far as the subscription, or lived a while, starts the backoff over.
                if health.isEventStreamSubscribed || parts.clock.now - connected > .seconds(60) { failures = 0 }
                if health.isEventStreamSubscribed {
                    health.eventStreamSubscribed(false)
                    pollWake.fire()  // back to polling every query interval, starting now
                }
                failures += 1
                let delay = RetryPolicy.eventStreamReconnect.backoff(afterFailures: failures)
                let metadata: Logger.Metadata = ["error": "\(error)", "retry_in_s": "\(Int(delay))"]
                if failures == 1 {
                    logger.warning(
                        "event stream unavailable; polling every \(parts.configuration.querySeconds) s meanwhile", metadata: metadata)
                } else {
                    logger.debug("event stream still unavailable", metadata: metadata)
                }
                do { try await parts.clock.sleep(seconds: delay) } catch { return }
            }
        }
    }
}
