import Foundation
import Logging
import PrefectAPI
import PrefectWorkerCore

/// Sends the worker's events (`WorkerEvents`) to `POST /events` in the background: an event the
/// server does not take after its retries is dropped with a debug line, never holding up a run.
final class EventEmitter: @unchecked Sendable {
    private let api: any PrefectAPI
    private let logger: Logger
    private let lock = NSLock()
    private var factory: WorkerEvents?
    private var startedId: String?
    private var inFlight: [UUID: Task<Void, Never>] = [:]

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
        let pending = lock.withLock { Array(inFlight.values) }
        await withTaskGroup(of: Void.self) { race in
            race.addTask { for task in pending { await task.value } }
            race.addTask { try? await sleepOnEventLoop(seconds: seconds) }
            await race.next()
            race.cancelAll()
        }
    }

    private func send(_ event: JSONValue) {
        let key = UUID()
        // Under the lock, so the task's own removal (which takes it too) comes after the insertion.
        lock.withLock {
            inFlight[key] = Task { [api, logger, weak self] in
                do {
                    try await api.emitEvents([event])
                } catch {
                    logger.debug("event not sent: \(error)", metadata: ["event": "\(event["event"]?.stringValue ?? "")"])
                }
                self?.finished(key)
            }
        }
    }

    private func finished(_ key: UUID) {
        lock.withLock { _ = inFlight.removeValue(forKey: key) }
    }
}
