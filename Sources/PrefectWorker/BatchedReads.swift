import PrefectAPI
import PrefectWorkerCore
import Synchronization

/// Reads one record by id, sharing a filter request with the other runs that read the same kind
/// of record at the same time (`ReadBatching` decides which reads go together). `fetch` reads
/// many ids in one request and returns the records it found by id; an id it did not find is
/// answered nil (gone). A failed request fails every read it carried: each caller retries as it
/// would a read of its own. A caller whose task is cancelled is answered at once
/// (`CancellationError`); the request it was in goes on for the others.
actor BatchedReads<Value: Sendable> {
    typealias Fetch = @Sendable ([String]) async throws -> [String: Value]

    private let fetch: Fetch
    private let clock: any WorkerClock
    private let origin: ContinuousClock.Instant
    private var batching: ReadBatching<String>
    /// The callers waiting for the next request that carries their id.
    private var waiting: [String: [Answer]] = [:]
    private var wake: (at: Double, timer: ScheduledWake)?

    init(clock: any WorkerClock, fetch: @escaping Fetch) {
        self.fetch = fetch
        self.clock = clock
        origin = clock.now
        batching = ReadBatching()
    }

    /// The record with `id`, read by a request sent after this call; nil when there is none.
    func read(_ id: String) async throws -> Value? {
        let answer = Answer()
        return try await withTaskCancellationHandler {
            try await withCheckedThrowingContinuation { continuation in
                answer.set(continuation)
                waiting[id, default: []].append(answer)
                send(batching.ask(id, now: now))
            }
        } onCancel: {
            answer.resume(with: .failure(CancellationError()))
        }
    }

    /// One caller's continuation, resumed once: by its request's answer or by its cancellation,
    /// whichever comes first.
    final class Answer: Sendable {
        private enum State {
            case waiting(CheckedContinuation<Value?, any Error>?)
            case cancelledEarly
            case resumed
        }
        private let state = Mutex(State.waiting(nil))

        func set(_ continuation: CheckedContinuation<Value?, any Error>) {
            let cancelled: Bool = state.withLock { state in
                guard case .waiting = state else { return true }
                state = .waiting(continuation)
                return false
            }
            if cancelled { continuation.resume(throwing: CancellationError()) }
        }

        func resume(with result: Result<Value?, any Error>) {
            let continuation: CheckedContinuation<Value?, any Error>? = state.withLock { state in
                switch state {
                case .waiting(let continuation?):
                    state = .resumed
                    return continuation
                case .waiting(nil):
                    // Cancelled before the continuation was set: `set` answers it.
                    state = .cancelledEarly
                    return nil
                case .cancelledEarly, .resumed:
                    return nil
                }
            }
            continuation?.resume(with: result)
        }
    }

    private var now: Double { (clock.now - origin).inSeconds }

    private func send(_ request: ReadBatching<String>.Request?) {
        if let request {
            let callers = request.keys.map { (id: $0, answers: waiting.removeValue(forKey: $0) ?? []) }
            let fetch = self.fetch
            Task {
                let answer: Result<[String: Value], any Error>
                do { answer = .success(try await fetch(request.keys)) } catch { answer = .failure(error) }
                for (id, answers) in callers {
                    for caller in answers { caller.resume(with: answer.map { $0[id] }) }
                }
                await self.answered(request.number)
            }
        }
        scheduleWake()
    }

    private func answered(_ number: Int) {
        send(batching.answered(number, now: now))
    }

    /// Reads waiting behind requests that are slow to come back go when those stop holding them.
    private func scheduleWake() {
        guard let at = batching.wakeAt(now: now) else { return }
        if let wake, wake.at <= at { return }
        wake?.timer.cancel()
        let timer = clock.schedule(after: .seconds(max(0, at - now))) { [weak self] in
            Task { await self?.woke() }
        }
        wake = (at, timer)
    }

    private func woke() {
        wake = nil
        send(batching.wake(now: now))
    }
}

/// The reads every run makes that one filter request can answer for many runs at once.
struct BatchedServerReads: Sendable {
    /// A run's state after its process exited (before the final state is proposed).
    let flowRuns: BatchedReads<FlowRun>
    /// A claimed run's deployment.
    let deployments: BatchedReads<Deployment>

    init(api: any PrefectAPI, clock: any WorkerClock) {
        flowRuns = BatchedReads(clock: clock) { ids in Self.byId(try await api.readFlowRuns(ids: ids), \.id) }
        deployments = BatchedReads(clock: clock) { ids in Self.byId(try await api.readDeployments(ids: ids), \.id) }
    }

    private static func byId<T>(_ records: [T], _ id: KeyPath<T, String>) -> [String: T] {
        Dictionary(records.map { ($0[keyPath: id], $0) }, uniquingKeysWith: { first, _ in first })
    }
}
