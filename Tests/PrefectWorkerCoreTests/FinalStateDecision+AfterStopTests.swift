import Foundation
import PrefectWorkerCore
import Testing

@Suite struct FinalStateDecisionAfterStopTests {
    let report = TeardownReport(finalSignal: 15, secondsToExit: 0.4, grace: 30)

    @Test func cancelledWhenTheEngineAlreadyWroteCancelledIsLeftAlone() {
        #expect(FinalStateDecision.afterStop(reason: .cancelled, report: report, current: .cancelled) == nil)
    }

    @Test(arguments: [.running, .cancelling, nil] as [StateType?])
    func cancelledIsForcedCancelled(_ current: StateType?) throws {
        let proposal = try #require(FinalStateDecision.afterStop(reason: .cancelled, report: report, current: current))
        #expect(proposal.type == .cancelled)
        #expect(proposal.force)
        let message = try #require(proposal.message)
        #expect(message.hasPrefix("Cancelled by user; "), "message: \(message)")
        #expect(message == "Cancelled by user; process group terminated with SIGTERM after 0.4 s.")
    }

    @Test(arguments: [.running, .cancelling, .cancelled, nil] as [StateType?])
    func timeoutIsForcedCrashed(_ current: StateType?) throws {
        let proposal = try #require(FinalStateDecision.afterStop(reason: .timedOut(seconds: 2), report: report, current: current))
        #expect(proposal.type == .crashed)
        #expect(proposal.force)
        let message = try #require(proposal.message)
        #expect(message.hasPrefix("Timed out after 2"), "message: \(message)")
        #expect(message.contains(report.description))
    }

    @Test func cancelledBeforeStart() {
        let proposal = FinalStateDecision.cancelledBeforeStart
        #expect(proposal.type == .cancelled)
        #expect(proposal.force)
        #expect(proposal.message?.hasPrefix("Cancelled by user") == true)
    }

    @Test(arguments: [.running, .pending, .cancelling, nil] as [StateType?])
    func aCutEngineRunIsRescheduledForAnotherWorker(_ current: StateType?) throws {
        let proposal = try #require(FinalStateDecision.afterStop(reason: .workerStopped, report: report, current: current, reporting: .engine))
        #expect((proposal.type, proposal.name) == (.scheduled, "AwaitingRetry"))
        #expect(!proposal.force, "a final state reached meanwhile is kept")
        #expect(proposal.message?.hasPrefix("Worker stopped before the flow run finished; rescheduled for another worker (") == true)
    }

    @Test(arguments: [.running, .pending, .cancelling, nil] as [StateType?])
    func workerStoppedIsForcedCrashedSayingSo(_ current: StateType?) throws {
        let proposal = try #require(FinalStateDecision.afterStop(reason: .workerStopped, report: report, current: current))
        #expect(proposal.type == .crashed)
        #expect(proposal.force)
        #expect(proposal.message?.hasPrefix("Worker stopped before the flow run finished; ") == true)
    }

    @Test(arguments: [.completed, .failed, .crashed, .cancelled] as [StateType])
    func workerStoppedLeavesATerminalRunAlone(_ current: StateType) {
        #expect(FinalStateDecision.afterStop(reason: .workerStopped, report: report, current: current) == nil)
        #expect(FinalStateDecision.afterStop(reason: .workerStopped, report: report, current: current, reporting: .engine) == nil)
    }

    @Test func notStartedRunIsHandedBackDueNow() {
        let now = Date(timeIntervalSince1970: 1_800_000_000)
        let proposal = FinalStateDecision.rescheduledByStoppingWorker(now: now)
        #expect(proposal.type == .scheduled)
        #expect(proposal.force)
        #expect(proposal.scheduledTime == now)
    }
}
