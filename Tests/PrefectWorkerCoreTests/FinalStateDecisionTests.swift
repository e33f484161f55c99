import PrefectWorkerCore
import Testing

struct ExitCase: Sendable, CustomTestStringConvertible {
    var reporting: StateReporting
    var exit: ProcessExit
    var current: StateType?
    var testDescription: String { "\(reporting) \(exit) current=\(current?.rawValue ?? "nil")" }
}

private let exitCases: [ExitCase] = {
    let exits: [ProcessExit] = [.exited(code: 0), .exited(code: 3), .signaled(signal: 9), .unknown]
    let currents: [StateType?] = [nil, .running, .pending, .completed, .failed, .crashed, .cancelled, .cancelling, .scheduled, .paused]
    return [StateReporting.engine, .worker].flatMap { reporting in
        exits.flatMap { exit in currents.map { ExitCase(reporting: reporting, exit: exit, current: $0) } }
    }
}()

/// The rule from the specification: (type, force, a phrase the message must contain), or nil.
private func expected(_ row: ExitCase) -> (StateType, Bool, String)? {
    if let current = row.current, [.completed, .failed, .crashed, .cancelled].contains(current) { return nil }
    if row.current == .scheduled || row.current == .paused { return nil }  // handed back for a later poll
    if row.current == .cancelling { return (.cancelled, true, "cancelled") }
    switch (row.reporting, row.exit) {
    case (.worker, .exited(code: 0)): return (.completed, false, "exited with code 0")
    case (.worker, .exited(let code)): return (.failed, false, "exited with code \(code)")
    case (.worker, .signaled): return (.failed, false, "SIGKILL")
    case (.engine, .exited(code: 0)): return (.crashed, false, "state_reporting")
    case (.engine, .exited(let code)): return (.crashed, false, "exited with code \(code)")
    case (.engine, .signaled): return (.crashed, false, "killed by SIGKILL")
    case (_, .unknown): return (.crashed, false, "exit status unknown")
    }
}

@Suite struct FinalStateDecisionTests {
    @Test(arguments: exitCases)
    func afterExit(_ row: ExitCase) {
        let proposal = FinalStateDecision.afterExit(exit: row.exit, reporting: row.reporting, current: row.current)
        guard let (type, force, phrase) = expected(row) else {
            #expect(proposal == nil)
            return
        }
        #expect(proposal?.type == type)
        #expect(proposal?.force == force)
        #expect(proposal?.message?.contains(phrase) == true, "message: \(proposal?.message ?? "nil")")
    }

    @Test func spawnFailedIsCrashedWithReason() {
        let proposal = FinalStateDecision.spawnFailed("command 'x' not found")
        #expect(proposal.type == .crashed)
        #expect(proposal.message?.hasPrefix("Flow run could not start:") == true)
        #expect(proposal.message == "Flow run could not start: command 'x' not found")
    }
}
