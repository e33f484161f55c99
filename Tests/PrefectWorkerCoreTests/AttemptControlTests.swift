import PrefectWorkerCore
import Testing

/// Version 2 of Prefect's attempt-control protocol as the supervisor reads it
/// (`prefect/_internal/attempt_control.py`), byte by byte.
@Suite struct AttemptControlSessionTests {
    static func receipt(_ json: String) -> [UInt8] {
        let payload = Array(json.utf8)
        let size = UInt32(payload.count)
        return [0x01] + [24, 16, 8, 0].map { UInt8(truncatingIfNeeded: size >> $0) } + payload
    }

    static let reported = #"{"disposition":"STATE_REPORTED","state_id":"0b6f7d8e-1c2a-4b3d-9e8f-7a6b5c4d3e2f","state_name":"Completed","state_type":"COMPLETED"}"#

    @Test(arguments: [
        // The 3.8.8 engine's hello: version 2 with receipts.
        ([0, 80, 70, 2, 1], [0, 80, 70, 2, 1], true),
        // A later version with receipts: still 2. Version 2 without the capability: version 1.
        ([0, 80, 70, 3, 1], [0, 80, 70, 2, 1], true),
        ([0, 80, 70, 2, 0], [0, 80, 70, 1, 0], false),
        ([0, 80, 70, 1, 1], [0, 80, 70, 1, 0], false),
    ] as [([UInt8], [UInt8], Bool)])
    func theHelloIsAnswered(_ hello: [UInt8], _ reply: [UInt8], _ receipts: Bool) {
        var session = AttemptControlSession()
        #expect(session.feed(hello) == [.negotiated(reply: reply, receipts: receipts)])
        #expect(session.receiptsNegotiated == receipts)
    }

    @Test func aReceiptAfterNegotiationIsReadEvenInPieces() {
        var session = AttemptControlSession()
        let bytes: [UInt8] = [0, 80, 70, 2, 1] + Self.receipt(Self.reported)
        var messages: [AttemptControlSession.Message] = []
        for byte in bytes { messages += session.feed([byte]) }
        #expect(messages == [
            .negotiated(reply: [0, 80, 70, 2, 1], receipts: true),
            .receipt(.stateReported(type: "COMPLETED", name: "Completed")),
        ])
    }

    @Test func anAbortedReceiptAndAnAck() {
        var session = AttemptControlSession()
        #expect(session.feed([0, 80, 70, 2, 1] + Self.receipt(#"{"disposition":"ORCHESTRATION_ABORTED"}"#)).last == .receipt(.orchestrationAborted))
        var v1 = AttemptControlSession()
        #expect(v1.feed([UInt8(ascii: "a")]) == [.intentAcknowledged], "a version-1 engine's ack")
    }

    @Test(arguments: [
        [0x01, 0, 0, 0, 2, 123, 125],  // a receipt without negotiation
        [0, 80, 71, 2, 1],  // not 'PF'
        [0x7A],  // an unknown byte
    ] as [[UInt8]])
    func malformedEndsTheSession(_ bytes: [UInt8]) {
        var session = AttemptControlSession()
        let messages = session.feed(bytes + [UInt8(ascii: "a")])
        guard case .malformed? = messages.last else {
            Issue.record("\(messages)")
            return
        }
        #expect(messages.count == 1, "nothing is read after it")
    }

    @Test func anOversizedReceiptIsMalformed() {
        var session = AttemptControlSession()
        let messages = session.feed([0, 80, 70, 2, 1, 0x01, 0, 0, 0x10, 0x01])
        #expect(messages.count == 2)
        if case .malformed = messages.last {} else { Issue.record("\(messages)") }
    }

    @Test(arguments: [
        (reported, AttemptConclusion.stateReported(type: "COMPLETED", name: "Completed")),
        (#"{"disposition":"ORCHESTRATION_ABORTED"}"#, .orchestrationAborted),
        (#"{"disposition":"ORCHESTRATION_ABORTED","state_type":"X"}"#, nil),
        (#"{"disposition":"STATE_REPORTED","state_id":"not-a-uuid","state_name":"Completed","state_type":"COMPLETED"}"#, nil),
        (#"{"disposition":"STATE_REPORTED","state_id":"0b6f7d8e-1c2a-4b3d-9e8f-7a6b5c4d3e2f","state_name":"Completed","state_type":""}"#, nil),
        (#"{"disposition":"STATE_REPORTED","state_id":"0b6f7d8e-1c2a-4b3d-9e8f-7a6b5c4d3e2f","state_type":"COMPLETED"}"#, nil),
        (#"{"disposition":"SOMETHING"}"#, nil),
        (#"["STATE_REPORTED"]"#, nil),
        ("not json", nil),
    ] as [(String, AttemptConclusion?)])
    func receiptsAreReadStrictly(_ json: String, _ expected: AttemptConclusion?) {
        #expect(AttemptControlSession.decodeReceipt(Array(json.utf8)) == expected)
    }

    @Test(arguments: [
        (AttemptConclusion?.none, FinalStateDecision.Settlement.readState),
        (.stateReported(type: "COMPLETED", name: "Completed"), .settled(.completed)),
        (.stateReported(type: "FAILED", name: "Failed"), .settled(.failed)),
        (.stateReported(type: "CRASHED", name: "Crashed"), .settled(.crashed)),
        (.stateReported(type: "CANCELLED", name: "Cancelled"), .settled(.cancelled)),
        (.stateReported(type: "PAUSED", name: "Suspended"), .settled(.paused)),
        // Not final, or unknown: the server is asked.
        (.stateReported(type: "RUNNING", name: "Running"), .readState),
        (.stateReported(type: "SOMETHING_NEW", name: "New"), .readState),
        (.orchestrationAborted, .settled(nil)),
        (.delegated(.relinquish), .settled(nil)),
        (.delegated(.cancel), .readState),
        (.delegated(.reschedule), .readState),
    ])
    func whatAConclusionSettles(_ conclusion: AttemptConclusion?, _ expected: FinalStateDecision.Settlement) {
        #expect(FinalStateDecision.settlement(of: conclusion) == expected)
    }
}

@Suite struct CrashedHooksDecisionTests {
    static let crashed = StateProposal(type: .crashed, message: "Process killed by SIGKILL.")

    @Test(arguments: [
        (StateReporting.engine, StateType.running, crashed, OrchestrationResult.Status.accept, true),
        (.engine, nil, crashed, .accept, true),
        // The engine reported CRASHED itself (and ran its hooks); the worker's timeout message
        // written over it must not run them again.
        (.engine, .crashed, crashed, .accept, false),
        (.engine, .completed, crashed, .accept, false),
        // The engine reported its final state: nothing proposed.
        (.engine, .running, nil, nil, false),
        // The server kept another state: not the worker's crash.
        (.engine, .running, crashed, .reject, false),
        (.engine, .running, crashed, .abort, false),
        (.engine, .running, crashed, nil, false),
        (.engine, .running, StateProposal(type: .scheduled, name: "AwaitingRetry"), .accept, false),
        (.engine, .cancelling, StateProposal(type: .cancelled), .accept, false),
        // A command has no flow whose hooks could be loaded.
        (.worker, .running, crashed, .accept, false),
    ] as [(StateReporting, StateType?, StateProposal?, OrchestrationResult.Status?, Bool)])
    func hooksRunOnlyAfterTheWorkersOwnCrashOfAnEngineRun(
        _ reporting: StateReporting, _ before: StateType?, _ proposed: StateProposal?, _ answer: OrchestrationResult.Status?,
        _ expected: Bool
    ) {
        #expect(FinalStateDecision.runsCrashedHooks(reporting: reporting, before: before, proposed: proposed, answer: answer) == expected)
    }

    @Test func aTimeoutIsReadBackSoTheWorkersReasonIsWrittenEvenAfterAReceipt() {
        let receipt = AttemptConclusion.stateReported(type: "CRASHED", name: "Crashed")
        let report = TeardownReport(finalSignal: 15, secondsToExit: 0.4, grace: 30)
        #expect(FinalStateDecision.settlement(of: receipt, outcome: .stopped(.timedOut(seconds: 20), report)) == .readState)
        #expect(FinalStateDecision.settlement(of: receipt, outcome: .stopped(.cancelled, report)) == .settled(.crashed))
        #expect(FinalStateDecision.settlement(of: receipt, outcome: .exited(.exited(code: 1))) == .settled(.crashed))
    }
}
