import FoundationEssentials
import Logging
import PrefectAPI
import PrefectWorkerCore
import Synchronization

/// Sends the worker's lines about each flow run to the Prefect API in batches (every 2 s, as
/// Prefect's own log handler does), so the UI shows why a run crashed. Bounded: at most
/// `maxQueued` records wait; beyond that the oldest are dropped and counted. A batch the server
/// does not take is kept for the next round (the server may be away for a while).
public final class RunLogShipper: Sendable {
    public static let flushInterval = 2.0
    public let maxQueued: Int
    private let maxBatchBytes = 4_000_000
    private struct State {
        var queue: [FlowRunLog] = []
        var dropped = 0
    }

    private let state = Mutex(State())
    /// Fired when the queue stops being empty: an idle worker does not wake up every interval.
    private let hasWork: WakeSignal
    private let clock: any WorkerClock

    public init(maxQueued: Int = 10_000, clock: any WorkerClock = EventLoopClock()) {
        self.maxQueued = maxQueued
        self.clock = clock
        hasWork = WakeSignal(clock: clock)
    }

    func enqueue(_ log: FlowRunLog) {
        let wasEmpty: Bool = state.withLock { state in
            if state.queue.count >= maxQueued {
                state.queue.removeFirst()
                state.dropped += 1
            }
            state.queue.append(log)
            return state.queue.count == 1
        }
        if wasEmpty { hasWork.fire() }
    }

    /// What waits to be sent, oldest first.
    var queued: [FlowRunLog] { state.withLock { $0.queue } }

    /// Records dropped because the queue was full.
    public var droppedCount: Int { state.withLock { $0.dropped } }

    /// Sends what is queued, one batch after another; stops at the first batch the server refuses
    /// (kept for the next call). False when something is left.
    @discardableResult
    func flush(api: any PrefectAPI, logger: Logger) async -> Bool {
        while true {
            let batch = takeBatch()
            guard !batch.isEmpty else { return true }
            do {
                try await api.sendLogs(batch)
            } catch {
                putBack(batch)
                logger.debug("could not send \(batch.count) log line(s) to the Prefect API yet: \(error)")
                return false
            }
        }
    }

    /// Flushes `flushInterval` after the first line of a batch came, until cancelled, waiting longer
    /// (up to a minute) while the server does not take the lines. Sleeps while there is nothing to send.
    func run(api: any PrefectAPI, logger: Logger) async {
        var failures = 0
        while !Task.isCancelled {
            if state.withLock({ $0.queue.isEmpty }) { await hasWork.wait(upTo: 3600) }
            let wait = RetryPolicy.runLogFlush.backoff(afterFailures: failures + 1)
            try? await clock.sleep(seconds: wait)
            if Task.isCancelled { return }
            failures = await flush(api: api, logger: logger) ? 0 : failures + 1
        }
    }

    /// The last flush at stop: what the server takes within `seconds`; the rest is dropped.
    func flushBeforeExit(api: any PrefectAPI, logger: Logger, seconds: Double = 5) async {
        await withTaskGroup(of: Void.self) { race in
            race.addTask { await self.flush(api: api, logger: logger) }
            race.addTask { [clock] in try? await clock.sleep(seconds: seconds) }
            await race.next()
            race.cancelAll()
        }
    }

    private func takeBatch() -> [FlowRunLog] {
        state.withLock { state in
            var bytes = 0
            var count = 0
            while count < state.queue.count, count < 500,
                bytes + state.queue[count].approximateBytes <= maxBatchBytes || count == 0
            {
                bytes += state.queue[count].approximateBytes
                count += 1
            }
            defer { state.queue.removeFirst(count) }
            return Array(state.queue.prefix(count))
        }
    }

    private func putBack(_ batch: [FlowRunLog]) {
        state.withLock { state in
            state.queue.insert(contentsOf: batch, at: 0)
            if state.queue.count > maxQueued {
                state.dropped += state.queue.count - maxQueued
                state.queue.removeFirst(state.queue.count - maxQueued)
            }
        }
    }
}

/// A swift-log handler that passes the records about a flow run (those with `flow_run_id`
/// metadata, at info or above) to a `RunLogShipper`. The UI line is the message followed by the
/// record's details (`pid`, `exit`, `command`...); the run's identity fields are left out, the UI
/// shows the line under its run already.
struct PrefectAPILogHandler: LogHandler {
    var logLevel: Logger.Level = .info
    var metadata: Logger.Metadata = [:]
    let shipper: RunLogShipper
    /// The logger name the UI shows.
    let name: String
    /// True for a run's output lines: the message goes as it is, without details.
    let messageOnly: Bool

    static let identityKeys: Set<String> = [
        "flow_run_id", "flow_run_name", "deployment_id", "work_pool", "worker_name", "stream", "line_partial",
    ]

    subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { metadata[key] }
        set { metadata[key] = newValue }
    }

    func log(event: LogEvent) {
        var merged = metadata
        if let recordMetadata = event.metadata { merged.merge(recordMetadata) { _, new in new } }
        guard let runId = merged["flow_run_id"]?.description else { return }
        var message = event.message.description
        if !messageOnly {
            let details = merged.keys.sorted().filter { !Self.identityKeys.contains($0) }
                .map { "\($0)=\(merged[$0]!.description)" }
            if !details.isEmpty { message += " (\(details.joined(separator: ", ")))" }
        }
        shipper.enqueue(FlowRunLog(
            name: name, level: Self.prefectLevel(event.level), message: message, timestamp: Date(), flowRunId: runId))
    }

    static func prefectLevel(_ level: Logger.Level) -> Int {
        switch level {
        case .trace, .debug: return 10
        case .info, .notice: return 20
        case .warning: return 30
        case .error: return 40
        case .critical: return 50
        }
    }
}
