import PrefectWorkerCore
import Testing

struct TeardownCase: Sendable, CustomTestStringConvertible {
    var reporting: StateReporting
    var reason: StopReason
    var engineAcknowledged: Bool?
    var testDescription: String {
        "\(reporting) \(reason) acknowledged=\(engineAcknowledged.map { String($0) } ?? "nil")"
    }
}

private let teardownCases: [TeardownCase] = {
    let reasons: [StopReason] = [.cancelled, .timedOut(seconds: 5), .workerStopped]
    let acknowledgements: [Bool?] = [nil, true, false]
    return [StateReporting.engine, .worker].flatMap { reporting in
        reasons.flatMap { reason in
            acknowledgements.map { TeardownCase(reporting: reporting, reason: reason, engineAcknowledged: $0) }
        }
    }
}()

@Suite struct TeardownPlanTests {
    static let grace = 30.0

    @Test(arguments: teardownCases)
    func steps(_ row: TeardownCase) {
        let steps = TeardownPlan.steps(
            reporting: row.reporting, reason: row.reason, engineAcknowledged: row.engineAcknowledged, grace: Self.grace)
        // An engine offered an intent (cancel, reschedule) that it did not take is killed at once.
        let killAtOnce = row.reporting == .engine && row.reason != .timedOut(seconds: 5) && row.engineAcknowledged != true
        if killAtOnce {
            #expect(steps == [.signal(9)])
        } else {
            #expect(steps == [.signal(15), .waitForExit(seconds: Self.grace), .signal(9)])
        }
        #expect(steps.last == .signal(TeardownPlan.sigkill))
    }

    @Test(arguments: [0.0, 0.5, 10, 3600])
    func graceIsPassedThrough(_ grace: Double) {
        let steps = TeardownPlan.steps(reporting: .worker, reason: .cancelled, engineAcknowledged: nil, grace: grace)
        #expect(steps == [.signal(15), .waitForExit(seconds: grace), .signal(9)])
    }

    @Test(arguments: [
        (.engine, .cancelled, .cancel), (.engine, .workerStopped, .reschedule), (.engine, .timedOut(seconds: 5), nil),
        (.worker, .cancelled, nil), (.worker, .workerStopped, nil), (.worker, .timedOut(seconds: 5), nil),
    ] as [(StateReporting, StopReason, ControlIntent?)])
    func intentOffered(_ reporting: StateReporting, _ reason: StopReason, _ expected: ControlIntent?) {
        #expect(TeardownPlan.intent(reporting: reporting, reason: reason) == expected)
    }

    @Test func signalNumbers() {
        #expect(TeardownPlan.sigterm == 15)
        #expect(TeardownPlan.sigkill == 9)
    }
}
