import Foundation
import PrefectWorkerCore
import Testing

@Suite struct RecoveryDecisionTests {
    let now = Date(timeIntervalSince1970: 1_800_000_000)

    func entry(_ phase: LedgerEntry.Phase, reporting: StateReporting = .worker) -> LedgerEntry {
        LedgerEntry(
            flowRunId: "r1", flowRunName: "happy-run", workerName: "w", workerPid: 4242, workerStartTime: 7, phase: phase,
            pid: phase == .running ? 5151 : nil, pidStartTime: phase == .running ? 9 : nil, reporting: reporting, updated: now)
    }

    func decide(
        _ phase: LedgerEntry.Phase, writerAlive: Bool = false, processAlive: Bool = false, current: StateType?,
        reporting: StateReporting = .worker
    ) -> RecoveryDecision {
        RecoveryDecision.decide(
            entry: entry(phase, reporting: reporting), writerAlive: writerAlive, processAlive: processAlive, current: current, now: now)
    }

    @Test func aVanishedEngineOfAPendingRunIsHandedBack() {
        #expect(decide(.running, current: .pending, reporting: .engine) == .handBack)
        // An engine that reached RUNNING ran the flow's code: that is a crash.
        guard case .report(let proposal) = decide(.running, current: .running, reporting: .engine) else {
            Issue.record("expected a report")
            return
        }
        #expect(proposal.type == .crashed)
    }

    @Test(arguments: [LedgerEntry.Phase.claimed, .starting, .running])
    func aLiveWritersEntriesAreLeftAlone(_ phase: LedgerEntry.Phase) {
        #expect(decide(phase, writerAlive: true, processAlive: true, current: .running) == .leave)
    }

    @Test(arguments: [nil, .completed, .failed, .crashed, .cancelled] as [StateType?])
    func terminalOrUnknownRunsAreForgotten(_ current: StateType?) {
        #expect(decide(.running, processAlive: true, current: current) == .forget)
        #expect(decide(.claimed, current: current) == .forget)
    }

    @Test func claimedButNeverStartedIsHandedBackDueNow() throws {
        guard case .report(let proposal) = decide(.claimed, current: .pending) else {
            Issue.record("expected a report")
            return
        }
        #expect(proposal.type == .scheduled && proposal.force && proposal.scheduledTime == now)
        #expect(proposal.message?.contains("Worker restarted before") == true)
    }

    @Test func aClaimedEntryHandsBackOnlyThePendingItsOwnClaimMade() {
        var claimed = entry(.claimed)
        claimed.claimTransitionId = "t-mine"
        func decide(_ state: StateSnapshot) -> RecoveryDecision {
            RecoveryDecision.decide(entry: claimed, writerAlive: false, processAlive: false, current: state.type, currentState: state, now: now)
        }
        guard case .report(let proposal) = decide(StateSnapshot(type: .pending, transitionId: "t-mine", scheduledTime: "2026-11-30T12:00:00Z"))
        else {
            Issue.record("expected a report")
            return
        }
        #expect(proposal.type == .scheduled && proposal.force)
        // The claim reached the server after the run had finished (a request held past its
        // timeout): the server re-opened it; its state before the claim is put back.
        #expect(decide(StateSnapshot(type: .pending, transitionId: "t-mine")) == .restoreBeforeClaim(transitionId: "t-mine"))
        // The entry is written before the claim is proposed: another worker's PENDING, or its
        // RUNNING, is left to that worker.
        #expect(decide(StateSnapshot(type: .pending, transitionId: "t-other", scheduledTime: "2026-11-30T12:00:00Z")) == .forget)
        #expect(decide(StateSnapshot(type: .running, transitionId: "t-other")) == .forget)
    }

    /// `starting`: the worker died between writing that it starts the process and writing the
    /// process's pid; the pid of a surviving process is found by the run's marker.
    @Test(arguments: [
        (StateType.running, StateReporting.worker, "crashed"),
        (.running, .engine, "crashed"),
        (.pending, .engine, "handBack"),
        (.pending, .worker, "scheduled"),
        (.cancelling, .worker, "cancelled"),
        (.scheduled, .engine, "forget"),
    ] as [(StateType, StateReporting, String)])
    func aRunWhoseProcessWasBeingStartedAndIsGone(_ current: StateType, _ reporting: StateReporting, _ expected: String) {
        let decision = decide(.starting, current: current, reporting: reporting)
        switch decision {
        case .report(let proposal):
            #expect(proposal.type.rawValue.lowercased() == expected, "\(decision)")
            if proposal.type == .crashed {
                #expect(proposal.message?.contains("while it was starting the flow run's process") == true)
                #expect(proposal.message?.contains("pid") == false)
            }
        case .handBack: #expect(expected == "handBack")
        case .forget: #expect(expected == "forget")
        default: Issue.record("unexpected \(decision)")
        }
        #expect(decide(.starting, processAlive: true, current: current, reporting: reporting) == .adopt)
    }

    @Test func claimedAndCancelledMeanwhileIsCancelled() {
        #expect(decide(.claimed, current: .cancelling) == .report(FinalStateDecision.cancelledBeforeStart))
    }

    @Test(arguments: [StateType.running, .pending, .cancelling])
    func aSurvivingProcessIsAdopted(_ current: StateType) {
        #expect(decide(.running, processAlive: true, current: current) == .adopt)
    }

    @Test func aVanishedProcessOfARunningRunIsCrashedNamingThePid() {
        guard case .report(let proposal) = decide(.running, current: .running) else {
            Issue.record("expected a report")
            return
        }
        #expect(proposal.type == .crashed)
        #expect(proposal.message?.contains("Worker restarted") == true)
        #expect(proposal.message?.contains("pid 5151") == true)
    }

    @Test func aVanishedProcessOfACancellingRunIsCancelled() {
        guard case .report(let proposal) = decide(.running, current: .cancelling) else {
            Issue.record("expected a report")
            return
        }
        #expect(proposal.type == .cancelled && proposal.force)
    }

    @Test(arguments: [StateType.scheduled, .paused])
    func aRunHandedBackMeanwhileIsForgotten(_ current: StateType) {
        #expect(decide(.running, current: current) == .forget)
    }

    @Test func entryRoundTripsThroughJSON() throws {
        let encoder = JSONEncoder()
        encoder.dateEncodingStrategy = .secondsSince1970
        let decoder = JSONDecoder()
        decoder.dateDecodingStrategy = .secondsSince1970
        let original = entry(.running)
        #expect(try decoder.decode(LedgerEntry.self, from: encoder.encode(original)) == original)
    }

    /// A restarted worker decides these 30 s after its start, once its predecessor's requests can
    /// no longer land: a claim or RUNNING it may have sent, or any proposal it gave up on.
    @Test(arguments: [
        (LedgerEntry.Phase.claimed, nil, true),
        (.starting, nil, true),
        (.running, nil, false),
        (.running, [], false),
        (.running, ["t-running"], true),
    ] as [(LedgerEntry.Phase, [String]?, Bool)])
    func entriesWhoseRequestsMayStillLandWait(_ phase: LedgerEntry.Phase, strays: [String]?, waits: Bool) throws {
        var waiting = entry(phase)
        waiting.strayTransitionIds = strays
        #expect(waiting.awaitsLateRequests == waits)
        let encoder = JSONEncoder()
        encoder.dateEncodingStrategy = .secondsSince1970
        let decoder = JSONDecoder()
        decoder.dateDecodingStrategy = .secondsSince1970
        #expect(try decoder.decode(LedgerEntry.self, from: encoder.encode(waiting)).strayTransitionIds == strays)
    }

    @Test func unknownExitOfAnAdoptedProcessIsCrashed() throws {
        let proposal = try #require(FinalStateDecision.afterExit(exit: .unknown, reporting: .worker, current: .running))
        #expect(proposal.type == .crashed)
        #expect(proposal.message?.contains("exit status unknown") == true)
        #expect(FinalStateDecision.afterExit(exit: .unknown, reporting: .engine, current: .completed) == nil)
    }
}

@Suite struct RecoveryFromARecordedExitTests {
    let now = Date(timeIntervalSince1970: 1_800_000_000)

    /// A run whose process ended under the earlier worker, which recorded the exit and died (or
    /// was restarted) before the server took the final state.
    func decide(_ exit: ProcessExit, reporting: StateReporting, current: StateType) -> RecoveryDecision {
        var entry = LedgerEntry(
            flowRunId: "r1", flowRunName: "happy-run", workerName: "w", workerPid: 4242, workerStartTime: 7, phase: .running,
            pid: 5151, pidStartTime: 9, reporting: reporting, updated: now)
        entry.record(exit)
        return RecoveryDecision.decide(entry: entry, writerAlive: false, processAlive: false, current: current, now: now)
    }

    @Test(arguments: [
        (ProcessExit.exited(code: 0), StateReporting.worker, StateType.running, StateType.completed, "Command exited with code 0."),
        (.exited(code: 3), .worker, .running, .failed, "Command exited with code 3."),
        (.signaled(signal: 9), .worker, .running, .failed, "Command killed by SIGKILL"),
        (.exited(code: 1), .engine, .running, .crashed, "Process exited with code 1."),
        (.exited(code: 0), .worker, .cancelling, .cancelled, "cancelled"),
    ])
    func theRecordedExitDecidesTheState(
        _ exit: ProcessExit, _ reporting: StateReporting, _ current: StateType, _ expected: StateType, _ message: String
    ) {
        guard case .report(let proposal) = decide(exit, reporting: reporting, current: current) else {
            Issue.record("expected a report")
            return
        }
        #expect(proposal.type == expected)
        #expect(proposal.message?.contains(message) == true, "\(proposal.message ?? "")")
        #expect(proposal.message?.contains("unknown") == false)
    }

    @Test func aRunTheServerAlreadyEndedIsForgotten() {
        #expect(decide(.exited(code: 0), reporting: .worker, current: .completed) == .forget)
    }

    @Test func theExitSurvivesTheLedgersEncoding() throws {
        for exit in [ProcessExit.exited(code: 0), .exited(code: 2), .signaled(signal: 15)] {
            var entry = LedgerEntry(
                flowRunId: "r1", flowRunName: "n", workerName: "w", workerPid: 1, workerStartTime: nil, phase: .running,
                reporting: .worker, updated: now)
            entry.record(exit)
            let decoded = try JSONDecoder().decode(LedgerEntry.self, from: JSONEncoder().encode(entry))
            #expect(decoded.recordedExit == exit)
        }
    }
}
