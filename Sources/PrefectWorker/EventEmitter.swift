import Foundation
import Logging
import PrefectAPI
import PrefectWorkerCore

/// Sends the worker's events (`WorkerEvents`) to `POST /events` in the background, never holding
/// up a run: each event is retried while the server is busy or away (backoff up to 30 s), at most
/// `maxPending` wait at once (a new one beyond that is dropped with a debug line), a 4xx answer drops it,
/// and at stop at most a few seconds are spent on what is still waiting.
final class EventEmitter: @unchecked Sendable {
    static let maxPending = 256
    private let api: any PrefectAPI
    private let logger: Logger
    private let lock = NSLock()
    private var factory: WorkerEvents?
    private var startedId: String?
    private var inFlight: [UUID: Task<Void, Never>] = [:]
    /// Fired when the last send in flight ended.
    private let drained = WakeSignal()

    init(api: any PrefectAPI, logger: Logger) {
        self.api = api
        self.logger = logger
    }

    /// Once registered: the pool's id is known. Emits `prefect.worker.started`.
    func workerStarted(_ factory: WorkerEvents) {
        let id = UUID().uuidString.lowercased()
        lock.withLock {
            self.factory = factory
            startedId = id
        }
        send(factory.started(id: id, at: Date()))
    }

    /// Emits `prefect.worker.submitted-flow-run`; returns its id, which the executed event follows.
    func submitted(_ run: WorkerEvents.Run) -> String? {
        guard let factory = lock.withLock({ factory }) else { return nil }
        let id = UUID().uuidString.lowercased()
        send(factory.submitted(id: id, at: Date(), run: run))
        return id
    }

    func executed(_ run: WorkerEvents.Run, pid: Int32, statusCode: Int32?, follows submitted: String?) {
        guard let factory = lock.withLock({ factory }) else { return }
        send(factory.executed(id: UUID().uuidString.lowercased(), at: Date(), run: run, pid: pid, statusCode: statusCode, follows: submitted))
    }

    /// Emits `prefect.worker.stopped` and waits up to `seconds` for what is still being sent.
    func workerStopped(waitingUpTo seconds: Double = 5) async {
        let factory: WorkerEvents? = lock.withLock { self.factory }
        let startedId: String? = lock.withLock { self.startedId }
        if let factory { send(factory.stopped(id: UUID().uuidString.lowercased(), at: Date(), follows: startedId)) }
        // Waits for the sends to end without awaiting them: one may be stuck in a connect.
        let deadline = Date().addingTimeInterval(seconds)
        while !lock.withLock({ inFlight.isEmpty }), Date() < deadline, !Task.isCancelled {
            await drained.wait(upTo: deadline.timeIntervalSinceNow)
        }
        // What the server did not take in time is given up.
        for task in lock.withLock({ Array(inFlight.values) }) { task.cancel() }
    }

    private func send(_ event: JSONValue) {
        let key = UUID()
        // Under the lock, so the task's own removal (which takes it too) comes after the insertion.
        let full: Bool = lock.withLock {
            guard inFlight.count < Self.maxPending else { return true }
            inFlight[key] = Task { [api, logger, weak self] in
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
        let empty: Bool = lock.withLock {
            inFlight.removeValue(forKey: key)
            return inFlight.isEmpty
        }
        if empty { drained.fire() }
    }
}
