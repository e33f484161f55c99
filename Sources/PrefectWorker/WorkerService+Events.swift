import Foundation
import Logging
import PrefectAPI
import PrefectWorkerCore

extension WorkerService {
    /// Keeps a subscription to the server's event stream open: a run scheduled in the pool wakes
    /// the poll loop, a run set CANCELLING wakes the cancellation check, so neither waits for its
    /// interval. Polling goes on underneath (every 30 s while subscribed, see `PollCadence`, every
    /// query interval otherwise); a stream that fails is retried with a backoff up to 60 s and only
    /// its first failure in a row is a warning.
    func eventStreamLoop(cache: WorkPoolCache, pollWake: WakeSignal, cancelWake: WakeSignal) async {
        let stream = PrefectEventStream(configuration: configuration.api)
        var failures = 0
        while !Task.isCancelled {
            // The pool's id as last read: a pool deleted and created again is followed at the next connection.
            let subscription = EventSubscription(poolId: await cache.pool.id)
            let connected = Date()
            do {
                try await stream.run(subscription) { [logger, health] in
                    logger.info("subscribed to the event stream", metadata: ["replay_seconds": "\(subscription.replaySeconds)"])
                    health.eventStreamSubscribed(true)
                    // What the worker may have missed while it was not listening.
                    pollWake.fire()
                    cancelWake.fire()
                } onMessage: { message in
                    switch message {
                    case .scheduled: pollWake.fire()
                    case .poolChanged(let event):
                        logger.debug("the pool changed; polling now", metadata: ["event": "\(event)"])
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
                if health.isEventStreamSubscribed || Date().timeIntervalSince(connected) > 60 { failures = 0 }
                if health.isEventStreamSubscribed {
                    health.eventStreamSubscribed(false)
                    pollWake.fire()  // back to polling every query interval, starting now
                }
                failures += 1
                let delay = min(60, pow(2, Double(min(failures, 6))))
                let metadata: Logger.Metadata = ["error": "\(error)", "retry_in_s": "\(Int(delay))"]
                if failures == 1 {
                    logger.warning("event stream unavailable; polling every \(configuration.querySeconds) s meanwhile", metadata: metadata)
                } else {
                    logger.debug("event stream still unavailable", metadata: metadata)
                }
                try? await sleepOnEventLoop(seconds: delay)
            }
        }
    }
}
