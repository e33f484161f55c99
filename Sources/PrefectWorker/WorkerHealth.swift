import Foundation
import PrefectWorkerCore

/// When the heartbeat and poll loops last succeeded, shared between the loops that record it and
/// the systemd notifier that reads it.
final class WorkerHealth: @unchecked Sendable {
    private let lock = NSLock()
    private var health = LoopHealth()
    private var eventStreamSubscribed = false
    private var runsInFlight = 0
    let startedAt = Date()

    var snapshot: LoopHealth { lock.withLock { health } }

    func heartbeatSucceeded(at now: Date = Date()) { lock.withLock { health.lastHeartbeat = now } }
    func pollSucceeded(at now: Date = Date()) { lock.withLock { health.lastPoll = now } }
    func startDraining() { lock.withLock { health.isDraining = true } }

    var inFlight: Int { lock.withLock { runsInFlight } }
    func inFlight(_ count: Int) { lock.withLock { runsInFlight = count } }

    var isEventStreamSubscribed: Bool { lock.withLock { eventStreamSubscribed } }
    func eventStreamSubscribed(_ subscribed: Bool) { lock.withLock { eventStreamSubscribed = subscribed } }
}
