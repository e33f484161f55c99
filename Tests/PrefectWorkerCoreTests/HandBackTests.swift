import Foundation
import PrefectWorkerCore
import Testing

@Suite struct HandBackTests {
    let now = Date(timeIntervalSince1970: 1_800_000_000)

    @Test(arguments: [
        // An engine that failed while the run was still PENDING never ran the flow.
        (ProcessExit.exited(code: 1), StateReporting.engine, StateType.pending as StateType?, true),
        (.signaled(signal: 9), .engine, .pending, true),
        (.unknown, .engine, .pending, true),
        // A clean exit without a report is a command that is not an engine: CRASHED says so.
        (.exited(code: 0), .engine, .pending, false),
        // Once RUNNING, the flow's code ran: a crash is a crash.
        (.exited(code: 1), .engine, .running, false),
        (.exited(code: 1), .engine, .completed, false),
        (.exited(code: 1), .engine, .scheduled, false),
        (.exited(code: 1), .engine, nil, false),
        // A plain command is RUNNING before its process starts: it always ran.
        (.exited(code: 1), .worker, .pending, false),
    ])
    func appliesOnlyToEnginesThatNeverReachedRunning(_ exit: ProcessExit, _ reporting: StateReporting, _ current: StateType?, _ expected: Bool) {
        #expect(HandBack.applies(exit: exit, reporting: reporting, current: current) == expected)
    }

    @Test(arguments: 0..<HandBack.limit)
    func underTheLimitTheRunIsScheduledDueNowAndCounted(_ previous: Int) {
        let proposal = HandBack.proposal(exit: .exited(code: 1), previousHandBacks: previous, now: now)
        #expect(proposal.type == .scheduled && proposal.force && proposal.scheduledTime == now)
        #expect(proposal.message?.contains("exited with code 1 before the flow started") == true)
        #expect(proposal.message?.contains("(hand-back \(previous + 1) of \(HandBack.limit))") == true)
    }

    @Test func atTheLimitTheRunIsCrashedNamingTheAttempts() {
        let proposal = HandBack.proposal(exit: .exited(code: 1), previousHandBacks: HandBack.limit, now: now)
        #expect(proposal.type == .crashed)
        #expect(proposal.message?.contains("handed back 3 times already") == true)
    }

    @Test func handBacksAreCountedFromTheHistory() {
        func state(_ type: String, _ message: String?) -> JSONValue {
            ["type": .string(type), "message": message.map { .string($0) } ?? .null]
        }
        let first = HandBack.proposal(exit: .exited(code: 1), previousHandBacks: 0, now: now).message
        let second = HandBack.proposal(exit: .exited(code: 1), previousHandBacks: 1, now: now).message
        let history: [JSONValue] = [
            state("SCHEDULED", nil), state("PENDING", nil), state("SCHEDULED", first), state("PENDING", nil),
            state("SCHEDULED", second), state("PENDING", nil),
            state("SCHEDULED", "Worker stopped before the flow run's process was started; rescheduled."),
            state("CRASHED", "(hand-back 9 of 3) is not a hand-back unless SCHEDULED"),
        ]
        #expect(HandBack.count(in: history) == 2)
        #expect(HandBack.count(in: []) == 0)
    }
}

@Suite struct CredentialRefusalsTests {
    @Test func refusalsInARowEndTheWorkerNamingTheSetting() {
        var refusals = CredentialRefusals()
        #expect(refusals.failed(status: 401, route: "POST /x", credentials: .apiKey) == nil)
        #expect(refusals.failed(status: 403, route: "POST /x", credentials: .apiKey) == nil)
        let line = refusals.failed(status: 401, route: "POST /work_pools/p/workers/heartbeat", credentials: .apiKey)
        #expect(line?.contains("3 times in a row") == true)
        #expect(line?.contains("HTTP 401") == true)
        #expect(line?.contains("PREFECT_API_KEY") == true)
        #expect(line?.contains("\n") == false)
    }

    @Test func anythingElseStartsTheCountAgain() {
        var refusals = CredentialRefusals()
        for status in [401, 401, 503, 401, 401, nil, 401, 401] as [Int?] {
            #expect(refusals.failed(status: status, route: "r", credentials: .authString) == nil)
        }
        refusals.answered()
        #expect(refusals.inARow == 0)
        #expect(refusals.failed(status: 404, route: "r", credentials: .none) == nil)
    }

    @Test(arguments: [
        (CredentialRefusals.Credentials.apiKey, "PREFECT_API_KEY"),
        (.authString, "PREFECT_API_AUTH_STRING"),
        (.none, "set PREFECT_API_KEY or PREFECT_API_AUTH_STRING"),
    ])
    func theLineNamesTheCredentialInUse(_ credentials: CredentialRefusals.Credentials, _ named: String) {
        var refusals = CredentialRefusals()
        var line: String?
        for _ in 0..<CredentialRefusals.limit { line = refusals.failed(status: 401, route: "r", credentials: credentials) }
        #expect(line?.contains(named) == true)
    }
}
