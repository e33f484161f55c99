import FoundationEssentials
import PrefectWorkerCore
import Synchronization

/// When the heartbeat and poll loops last succeeded, shared between the loops that record it and
/// the systemd status and web server that read it.
final class WorkerHealth: Sendable {
    private struct State {
        var health = LoopHealth()
        var eventStreamSubscribed = false
        var runsInFlight = 0
    }

    private let state = Mutex(State())
    let startedAt = Date()

    var snapshot: LoopHealth { state.withLock { $0.health } }

    func heartbeatSucceeded(at now: Date = Date()) { state.withLock { $0.health.lastHeartbeat = now } }
    func pollSucceeded(at now: Date = Date()) { state.withLock { $0.health.lastPoll = now } }
    func startDraining() { state.withLock { $0.health.isDraining = true } }

    var inFlight: Int { state.withLock { $0.runsInFlight } }
    func inFlight(_ count: Int) { state.withLock { $0.runsInFlight = count } }

    var isEventStreamSubscribed: Bool { state.withLock { $0.eventStreamSubscribed } }
    func eventStreamSubscribed(_ subscribed: Bool) { state.withLock { $0.eventStreamSubscribed = subscribed } }
}
