import PrefectWorkerCore

/// The runs this worker holds, with a channel of events for each: the cancellation watcher posts
/// `cancelRequested`, the executor's own tasks post exits and timers. A cancel that arrives before the
/// run's process exists is remembered, so the process is never started.
actor RunRegistry {
    private final class Entry {
        let continuation: AsyncStream<RunSupervision.Event>.Continuation
        var cancelRequested = false
        /// The last state the run was seen or put in by this worker.
        var lastState: StateType?

        init(continuation: AsyncStream<RunSupervision.Event>.Continuation) {
            self.continuation = continuation
        }
    }

    private var entries: [String: Entry] = [:]
    /// Set once the drain is over: nothing may start any more, and what runs is stopped.
    private(set) var isStopping = false

    /// Fired when the first run registers: the cancellation watcher sleeps while there is none.
    nonisolated let firstRegistered: WakeSignal

    init(clock: any WorkerClock) {
        firstRegistered = WakeSignal(clock: clock)
    }

    /// Registers a run and returns its event stream (buffered: nothing posted is lost).
    func register(_ flowRunId: String) -> (AsyncStream<RunSupervision.Event>, AsyncStream<RunSupervision.Event>.Continuation) {
        let (stream, continuation) = AsyncStream<RunSupervision.Event>.makeStream()
        entries[flowRunId] = Entry(continuation: continuation)
        if entries.count == 1 { firstRegistered.fire() }
        return (stream, continuation)
    }

    /// Forgets the run; returns the last state noted for it.
    @discardableResult
    func unregister(_ flowRunId: String) -> StateType? {
        guard let entry = entries.removeValue(forKey: flowRunId) else { return nil }
        entry.continuation.finish()
        return entry.lastState
    }

    /// Notes the state the run is in now, as far as this worker knows (for the metrics).
    func noteState(_ flowRunId: String, _ state: StateType) {
        entries[flowRunId]?.lastState = state
    }

    var ids: [String] { Array(entries.keys) }

    /// Marks the run as cancelled and wakes its executor; false when the worker does not hold it or
    /// it was already marked.
    @discardableResult
    func requestCancel(_ flowRunId: String) -> Bool {
        guard let entry = entries[flowRunId], !entry.cancelRequested else { return false }
        entry.cancelRequested = true
        entry.continuation.yield(.cancelRequested)
        return true
    }

    func isCancelRequested(_ flowRunId: String) -> Bool {
        entries[flowRunId]?.cancelRequested ?? false
    }

    /// Ends the drain: every run still held is told to stop; returns how many there were.
    func stopAll() -> Int {
        isStopping = true
        for entry in entries.values { entry.continuation.yield(.workerStopping) }
        return entries.count
    }
}
