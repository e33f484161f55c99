import Foundation
import Logging
import PrefectAPI
import PrefectWorkerCore
import Synchronization

/// Sends the worker's events (`WorkerEvents`) to `POST /events` in the background, never holding
/// up a run: each event is retried while the server is busy or away (backoff up to 30 s), at most
/// `maxPending` wait at once (a new one beyond that is dropped with a debug line), a 4xx answer drops it,
/// and at stop at most a few seconds are spent on what is still waiting.
final class EventEmitter: Sendable {
    static let maxPending = 256
    private let api: any PrefectAPI
    private let logger: Logger
    private struct State {
        var factory: WorkerEvents?
        var startedId: String?
        var inFlight: [UUID: Task<Void, Never>] = [:]
    }

    private let state = Mutex(State())
    /// Fired when the last send in flight ended.
    private let drained: WakeSignal
    private let clock: any WorkerClock

    init(api: any PrefectAPI, logger: Logger, clock: any WorkerClock) {
        self.api = api
        self.logger = logger
        self.clock = clock
        drained = WakeSignal(clock: clock)
    }

    /// Once registered: the pool's id is known. Emits `prefect.worker.started`.
    func workerStarted(_ factory: WorkerEvents) {
        let id = UUID().uuidString.lowercased()
        state.withLock { state in
            state.factory = factory
            state.startedId = id
        }
        send(factory.started(id: id, at: Date()))
    }

    /// Emits `prefect.worker.submitted-flow-run`; returns its id, which the executed event follows.
    func submitted(_ run: WorkerEvents.Run) -> String? {
        guard let factory = state.withLock({ $0.factory }) else { return nil }
        let id = UUID().uuidString.lowercased()
        send(factory.submitted(id: id, at: Date(), run: run))
        return id
    }

    func executed(_ run: WorkerEvents.Run, pid: Int32, statusCode: Int32?, follows submitted: String?) {
        guard let factory = state.withLock({ $0.factory }) else { return }
        send(factory.executed(id: UUID().uuidString.lowercased(), at: Date(), run: run, pid: pid, statusCode: statusCode, follows: submitted))
    }

    /// Emits `prefect.worker.stopped` and waits up to `seconds` for what is still being sent.
    func workerStopped(waitingUpTo seconds: Double = 5) async {
        let (factory, startedId) = state.withLock { ($0.factory, $0.startedId) }
        if let factory { send(factory.stopped(id: UUID().uuidString.lowercased(), at: Date(), follows: startedId)) }
        // Waits for the sends to end without awaiting them: one may be stuck in a connect.
        let deadline = clock.now + .seconds(seconds)
        while !state.withLock({ $0.inFlight.isEmpty }), clock.now < deadline, !Task.isCancelled {
            await drained.wait(upTo: (deadline - clock.now).inSeconds)
        }
        // What the server did not take in time is given up.
        for task in state.withLock({ Array($0.inFlight.values) }) { task.cancel() }
    }

    private func send(_ event: JSONValue) {
        let key = UUID()
        // Under the lock, so the task's own removal (which takes it too) comes after the insertion.
        let full: Bool = state.withLock { state in
            guard state.inFlight.count < Self.maxPending else { return true }
            state.inFlight[key] = Task { [api, logger, weak self] in
                do {
                    try await api.emitEvents([event])
                } catch {
                    logger.debug("event not sent: \(error)", metadata: ["event": "\(event["event"]?.stringValue ?? "")"])
                }
                self?.finished(key)
            }
            return false
        }
        if full {
            logger.debug(
                "event dropped: \(Self.maxPending) events are already waiting for the server",
                metadata: ["event": "\(event["event"]?.stringValue ?? "")"])
        }
    }

    private func finished(_ key: UUID) {
        let empty: Bool = state.withLock { state in
            state.inFlight.removeValue(forKey: key)
            return state.inFlight.isEmpty
        }
        if empty { drained.fire() }
    }
}
