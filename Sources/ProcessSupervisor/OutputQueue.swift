import PrefectWorkerCore

/// Between a child's pipe readers and a log sink that may be slow (the journal under load): the
/// readers hand lines in without ever waiting, one writer thread hands them out in order. What the
/// run's `OutputBudget` does not admit is dropped and counted, and the sink is told how many were
/// dropped (at most once a second, and once more at the end), so a gap is never silent.
/// `@unchecked`: its state is guarded by the `ConditionVariable` the writer thread waits on (a
/// `Mutex` cannot be waited on); every access holds it (docs/architecture.md, "Shared state").
public final class OutputQueue: @unchecked Sendable {
    public enum Event: Sendable, Equatable {
        case line(OutputLine)
        /// Lines dropped since the previous notice.
        case dropped(OutputCounts)
    }

    private let lock = ConditionVariable()
    private var budget: OutputBudget
    private var pending: [OutputLine] = []
    private var counts = OutputCounts()
    /// Drops not yet told to the sink.
    private var unreported = OutputCounts()
    private var lastNotice = 0.0
    private var closed = false
    private var finished = false
    /// Completed by the writer once it handed out the last line.
    private let done = Completion()
    private let deliver: @Sendable (Event) -> Void
    private let clock: @Sendable () -> Double

    public init(
        budget: OutputBudget, clock: @escaping @Sendable () -> Double = OutputQueue.monotonicSeconds,
        deliver: @escaping @Sendable (Event) -> Void
    ) {
        self.budget = budget
        self.clock = clock
        self.deliver = deliver
        startWorkerThread(name: "pw-output") { [self] in writeUntilClosed() }
    }

    /// Takes one line; never blocks on the sink.
    public func offer(_ line: OutputLine) {
        lock.lock()
        defer { lock.unlock() }
        guard !closed else { return }
        switch budget.admit(bytes: line.text.utf8.count, now: clock()) {
        case .accept:
            pending.append(line)
            lock.signal()
        case .overRate:
            counts.droppedOverRate += 1
            unreported.droppedOverRate += 1
        case .queueFull:
            counts.droppedQueueFull += 1
            unreported.droppedQueueFull += 1
        }
    }

    /// No more lines come: waits up to `seconds` for the writer to hand out what is queued, and
    /// returns the counts. A sink that is still behind then keeps writing in the background.
    public func finish(waitingUpTo seconds: Double) -> OutputCounts {
        lock.lock()
        defer { lock.unlock() }
        closed = true
        lock.broadcast()
        let deadline = ConditionVariable.monotonicSeconds() + seconds
        while !finished, lock.wait(untilMonotonic: deadline) {}
        return counts
    }

    /// `finish(waitingUpTo:)` for a task: the wait blocks no thread.
    public func finish(within seconds: Double, clock: any WorkerClock) async -> OutputCounts {
        lock.withLock {
            closed = true
            lock.broadcast()
        }
        _ = await done.wait(upTo: seconds, clock: clock)
        return lock.withLock { counts }
    }

    private func writeUntilClosed() {
        lock.lock()
        while true {
            if pending.isEmpty && !closed {
                // With drops to tell, wake within a second even if no line is admitted meanwhile.
                if unreported.dropped > 0 { lock.wait(untilMonotonic: ConditionVariable.monotonicSeconds() + 1) } else { lock.wait() }
            }
            let batch = pending
            pending.removeAll(keepingCapacity: true)
            let notice = takeNotice(force: batch.isEmpty && closed)
            lock.unlock()
            if let notice { deliver(.dropped(notice)) }
            for line in batch { deliver(.line(line)) }
            lock.lock()
            for line in batch { budget.release(bytes: line.text.utf8.count) }
            counts.written += batch.count
            if batch.isEmpty && closed { break }
        }
        finished = true
        lock.broadcast()
        lock.unlock()
        done.complete()
    }

    /// The drops to tell the sink about now, if any: once a second while they go on, and at the end.
    private func takeNotice(force: Bool) -> OutputCounts? {
        guard unreported.dropped > 0 else { return nil }
        let now = clock()
        guard force || now - lastNotice >= 1 else { return nil }
        lastNotice = now
        defer { unreported = OutputCounts() }
        return unreported
    }

    public static func monotonicSeconds() -> Double { ConditionVariable.monotonicSeconds() }
}
