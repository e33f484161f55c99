import Foundation
import PrefectWorkerCore
import ProcessSupervisor
import Testing

/// The queue between a real child's pipes and a sink: the child is never held up by a slow sink,
/// memory stays within the budget, and every line is either delivered in order or counted.
@Suite struct OutputQueueTests {
    /// Records what the sink was given; can be held shut to play a journal that is not reading.
    final class Sink: @unchecked Sendable {
        private let lock = NSLock()
        private let gate = DispatchSemaphore(value: 0)
        private let blocked: Bool
        private(set) var lines: [String] = []
        private(set) var notices: [OutputCounts] = []

        init(blocked: Bool = false) { self.blocked = blocked }

        func take(_ event: OutputQueue.Event) {
            if blocked { gate.wait(); gate.signal() }
            lock.withLock {
                switch event {
                case .line(let line): lines.append(line.text)
                case .dropped(let counts): notices.append(counts)
                }
            }
        }

        func open() { gate.signal() }
        var snapshot: ([String], [OutputCounts]) { lock.withLock { (lines, notices) } }
    }

    @Test func everyLineArrivesInOrderWithinTheBudget() async throws {
        let sink = Sink()
        let queue = OutputQueue(budget: OutputBudget(linesPerSecond: 0, burstLines: 1, maxQueuedBytes: 1 << 26), deliver: sink.take)
        let child = try ChildProcess.spawn(shell("seq 1 20000")) { queue.offer($0) }
        #expect(await exitOf(child) == .exited(code: 0))
        let counts = queue.finish(waitingUpTo: deadlineSeconds)
        let (lines, notices) = sink.snapshot
        #expect(counts == OutputCounts(written: 20000))
        #expect(lines == (1...20000).map(String.init))
        #expect(notices.isEmpty)
    }

    @Test func aSinkThatDoesNotReadNeverStallsTheChildAndDropsAreCounted() async throws {
        let sink = Sink(blocked: true)
        let budget = OutputBudget(linesPerSecond: 0, burstLines: 1, maxQueuedBytes: 64 * 1024)
        let queue = OutputQueue(budget: budget, deliver: sink.take)
        let child = try ChildProcess.spawn(shell("seq 1 50000")) { queue.offer($0) }
        // The sink is shut the whole time the child writes: it still finishes.
        #expect(await exitOf(child) == .exited(code: 0))
        sink.open()
        let counts = queue.finish(waitingUpTo: deadlineSeconds)
        let (lines, notices) = sink.snapshot
        #expect(counts.droppedQueueFull > 0)
        #expect(counts.written + counts.dropped == 50000, "every line is written or counted")
        #expect(lines.count == counts.written)
        #expect(notices.reduce(0) { $0 + $1.dropped } == counts.dropped, "the sink is told of every drop")
        let numbers = lines.compactMap(Int.init)
        #expect(numbers == numbers.sorted(), "what arrives arrives in order")
    }

    @Test func overTheRateLinesAreDroppedAndTheSinkIsTold() async throws {
        let sink = Sink()
        let budget = OutputBudget(linesPerSecond: 0.001, burstLines: 100, maxQueuedBytes: 1 << 26)
        let queue = OutputQueue(budget: budget, deliver: sink.take)
        let child = try ChildProcess.spawn(shell("seq 1 1000")) { queue.offer($0) }
        #expect(await exitOf(child) == .exited(code: 0))
        let counts = queue.finish(waitingUpTo: deadlineSeconds)
        let (lines, notices) = sink.snapshot
        #expect(counts == OutputCounts(written: 100, droppedOverRate: 900))
        #expect(lines == (1...100).map(String.init), "the burst is the first lines")
        #expect(notices.reduce(0) { $0 + $1.droppedOverRate } == 900)
    }

    @Test func aOneMebibyteLineArrivesWholeInLimitedPieces() async throws {
        let sink = Sink()
        let queue = OutputQueue(budget: OutputBudget(linesPerSecond: 0, burstLines: 1, maxQueuedBytes: 1 << 26), deliver: sink.take)
        let spec = shell("head -c 1048576 /dev/zero | tr '\\0' x; echo; echo after", maxLineBytes: 64 * 1024)
        let child = try ChildProcess.spawn(spec) { queue.offer($0) }
        #expect(await exitOf(child) == .exited(code: 0))
        _ = queue.finish(waitingUpTo: deadlineSeconds)
        let (lines, _) = sink.snapshot
        #expect(lines.count == 17)
        #expect(lines.dropLast().allSatisfy { $0.allSatisfy { $0 == "x" } })
        #expect(lines.dropLast().map(\.utf8.count).reduce(0, +) == 1 << 20)
        #expect(lines.last == "after")
    }
}
