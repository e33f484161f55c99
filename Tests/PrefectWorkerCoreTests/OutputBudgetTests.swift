import PrefectWorkerCore
import Testing

@Suite struct OutputBudgetTests {
    @Test func theBurstPassesAtOnceThenTheRateApplies() {
        var budget = OutputBudget(linesPerSecond: 10, burstLines: 5, maxQueuedBytes: 1 << 20)
        let admitted = (0..<8).map { _ in budget.admit(bytes: 1, now: 100) }
        #expect(admitted == Array(repeating: .accept, count: 5) + Array(repeating: .overRate, count: 3))
        // 0.35 s later three more lines' worth of tokens have come back.
        let later = (0..<4).map { _ in budget.admit(bytes: 1, now: 100.35) }
        #expect(later == [.accept, .accept, .accept, .overRate])
    }

    @Test func tokensNeverExceedTheBurst() {
        var budget = OutputBudget(linesPerSecond: 1000, burstLines: 3, maxQueuedBytes: 1 << 20)
        _ = budget.admit(bytes: 1, now: 0)
        let admitted = (0..<5).map { _ in budget.admit(bytes: 1, now: 3600) }
        #expect(admitted == [.accept, .accept, .accept, .overRate, .overRate])
    }

    @Test func zeroRateMeansNoRateLimit() {
        var budget = OutputBudget(linesPerSecond: 0, burstLines: 1, maxQueuedBytes: 1 << 30)
        #expect((0..<10_000).allSatisfy { _ in budget.admit(bytes: 10, now: 0) == .accept })
    }

    @Test func queuedBytesAreCappedAndFreedByRelease() {
        let line = 1000
        let cost = line + OutputBudget.lineOverheadBytes
        var budget = OutputBudget(linesPerSecond: 0, burstLines: 1, maxQueuedBytes: 3 * cost)
        #expect((0..<3).map { _ in budget.admit(bytes: line, now: 0) } == [.accept, .accept, .accept])
        #expect(budget.admit(bytes: line, now: 0) == .queueFull)
        #expect(budget.queuedBytes == 3 * cost)
        budget.release(bytes: line)
        #expect(budget.admit(bytes: line, now: 0) == .accept)
    }

    @Test func emptyLinesStillCostSoAFloodOfThemIsBounded() {
        var budget = OutputBudget(linesPerSecond: 0, burstLines: 1, maxQueuedBytes: 10 * OutputBudget.lineOverheadBytes)
        let accepted = (0..<100).filter { _ in budget.admit(bytes: 0, now: 0) == .accept }.count
        #expect(accepted == 10)
    }

    @Test func aLineOverRateDoesNotTakeQueueSpace() {
        var budget = OutputBudget(linesPerSecond: 1, burstLines: 1, maxQueuedBytes: 1 << 20)
        #expect(budget.admit(bytes: 100, now: 0) == .accept)
        let before = budget.queuedBytes
        #expect(budget.admit(bytes: 100, now: 0) == .overRate)
        #expect(budget.queuedBytes == before)
    }

    @Test func dropDescriptionNamesEachReason() {
        #expect(OutputCounts(written: 5, droppedOverRate: 3, droppedQueueFull: 2).dropDescription
            == "5 line(s) of output dropped (3 over the run's output rate limit, 2 while the log sink was behind)")
        #expect(OutputCounts(droppedOverRate: 1).dropDescription
            == "1 line(s) of output dropped (1 over the run's output rate limit)")
    }
}
