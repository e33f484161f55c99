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
}
