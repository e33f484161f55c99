import FoundationEssentials
import Logging
import PrefectAPI
import PrefectWorkerCore
import Synchronization

/// Sends the worker's events (`WorkerEvents`) to `POST /events` in the background, never holding
/// up a run. Events go together: the first one waits `gatherSeconds` for others, and what comes
/// while a request is out goes in the next one, up to `maxBatch` in a request, so a busy worker
/// sends one request for many runs' events rather than two per run (docs/architecture.md,
/// "Requests per run"). A request is retried while the server is busy or away (backoff up to 30 s),
/// at most `maxPending` events wait (a new one beyond that is dropped with a debug line), a 4xx
/// answer drops the request's events, and at stop at most a few seconds are spent on what is
/// still waiting.
final class EventEmitter: Sendable {
    static let maxPending = 256
    static let maxBatch = 100
    static let gatherSeconds = 0.5
    private let api: any PrefectAPI
    private let logger: Logger
    private struct State {
        var factory: WorkerEvents?
        var startedId: String?
        var pending: [JSONValue] = []
        /// Sends what is pending, one request after another, until nothing is left.
        var sender: Task<Void, Never>?
        var stopping = false
    }

    private let state = Mutex(State())
    /// Fired when the sender has nothing left.
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
        let (factory, startedId) = state.withLock { state in
            state.stopping = true
            return (state.factory, state.startedId)
        }
        if let factory { send(factory.stopped(id: UUID().uuidString.lowercased(), at: Date(), follows: startedId)) }
        // Waits for the sender to end without awaiting it: it may be stuck in a connect.
        let deadline = clock.now + .seconds(seconds)
        while state.withLock({ $0.sender != nil }), clock.now < deadline, !Task.isCancelled {
            await drained.wait(upTo: (deadline - clock.now).inSeconds)
        }
        // What the server did not take in time is given up.
        state.withLock { $0.sender }?.cancel()
    }

    private func send(_ event: JSONValue) {
        // Under the lock, so the sender's last look at the queue and a new event cannot cross.
        let full: Bool = state.withLock { state in
            guard state.pending.count < Self.maxPending else { return true }
            state.pending.append(event)
            if state.sender == nil {
                state.sender = Task { [weak self] in await self?.sendPending() }
            }
            return false
        }
        if full {
            logger.debug(
                "event dropped: \(Self.maxPending) events are already waiting for the server",
                metadata: ["event": "\(event["event"]?.stringValue ?? "")"])
        }
    }

    private func sendPending() async {
        if !state.withLock({ $0.stopping }) { try? await clock.sleep(seconds: Self.gatherSeconds) }
        while true {
            let batch: [JSONValue] = state.withLock { state in
                let batch = Array(state.pending.prefix(Self.maxBatch))
                state.pending.removeFirst(batch.count)
                if batch.isEmpty { state.sender = nil }
                return batch
            }
            if batch.isEmpty { break }
            if Task.isCancelled {
                state.withLock { $0.sender = nil }
                break
            }
            do {
                try await api.emitEvents(batch)
            } catch {
                logger.debug(
                    "\(batch.count) event(s) not sent: \(error)",
                    metadata: ["event": "\(batch.compactMap { $0["event"]?.stringValue }.joined(separator: ","))"])
            }
        }
        drained.fire()
    }
}
