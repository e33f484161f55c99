import FoundationEssentials

/// One run this worker holds, as written to its durable ledger so that a restarted worker knows
/// what it had claimed and launched (README, "Restart recovery").
public struct LedgerEntry: Codable, Sendable, Equatable {
    public enum Phase: String, Codable, Sendable {
        /// Claimed, or about to be: written before PENDING is proposed (with the proposal's
        /// `claimTransitionId`, which tells whether the PENDING on the server is this claim), so a
        /// worker killed right after the server took its claim still finds the run. No process yet.
        case claimed
        /// About to start its process: written before RUNNING is proposed for a run the worker
        /// reports, and before the spawn. A process the ledger does not name yet may exist.
        case starting
        /// Its process was started: `pid`/`pidStartTime` identify it.
        case running
    }

    public var flowRunId: String
    public var flowRunName: String
    public var workerName: String
    /// The worker process that wrote the entry, to tell a crashed worker's entries from a live one's.
    public var workerPid: Int32
    public var workerStartTime: UInt64?
    public var phase: Phase
    public var pid: Int32?
    /// The process's start time in clock ticks since boot (/proc/<pid>/stat field 22): a pid is
    /// only the same process if this matches too.
    public var pidStartTime: UInt64?
    public var reporting: String
    public var updated: Date
    /// The run's private profile directory (credentials), removed by whoever ends the run.
    public var profileDirectory: String?
    /// The transition id of this worker's PENDING proposal (the claim).
    public var claimTransitionId: String?
    /// How the process ended, written before its final state is proposed: a worker restarted
    /// before the server took that state (killed, or the server away meanwhile) reports it from
    /// here instead of "exit status unknown". An exit code, or minus the signal.
    public var exitStatus: Int32?
    /// The transition ids of the run's proposals that had an attempt go unanswered (`RunLedger`
    /// keeps them beside the entry as they happen): such an attempt may still reach the server
    /// after the worker moved the run on, and re-open it. Whoever decides the entry next looks for
    /// them on the run first (README, "Exactly once").
    public var strayTransitionIds: [String]?

    /// Whether a request the entry's writer sent may still land: a claim or a RUNNING proposed
    /// just before it died, or any proposal with an unanswered attempt. A restarted worker decides
    /// such an entry only once those can no longer land.
    public var awaitsLateRequests: Bool {
        phase == .claimed || phase == .starting || !(strayTransitionIds ?? []).isEmpty
    }

    /// The exit recorded in `exitStatus`, if any.
    public var recordedExit: ProcessExit? {
        exitStatus.map { $0 < 0 ? .signaled(signal: -$0) : .exited(code: $0) }
    }

    /// Records `exit` (a `.unknown` records nothing).
    public mutating func record(_ exit: ProcessExit) {
        switch exit {
        case .exited(let code): exitStatus = code
        case .signaled(let signal): exitStatus = -signal
        case .unknown: exitStatus = nil
        }
    }

    public init(
        flowRunId: String, flowRunName: String, workerName: String, workerPid: Int32, workerStartTime: UInt64?,
        phase: Phase, pid: Int32? = nil, pidStartTime: UInt64? = nil, reporting: StateReporting, updated: Date
    ) {
        self.flowRunId = flowRunId
        self.flowRunName = flowRunName
        self.workerName = workerName
        self.workerPid = workerPid
        self.workerStartTime = workerStartTime
        self.phase = phase
        self.pid = pid
        self.pidStartTime = pidStartTime
        self.reporting = reporting.rawValue
        self.updated = updated
    }
}

/// What a starting worker does with a ledger entry left by an earlier worker process.
public enum RecoveryDecision: Equatable, Sendable {
    /// Another worker process that is still alive owns the entry: leave it alone.
    case leave
    /// The run is terminal already (or the server no longer knows it): drop the entry.
    case forget
    /// The process is still running: supervise it again.
    case adopt
    /// Propose this state, then drop the entry.
    case report(StateProposal)
    /// The claim landed on a run that had left SCHEDULED (it reached the server late): put back
    /// the state the run had before it (`StateRestoration`), then drop the entry.
    case restoreBeforeClaim(transitionId: String)
    /// The engine's process is gone and the run is still PENDING: none of its code ran, so it is
    /// handed back (`HandBack`, which counts the earlier hand-backs), then the entry is dropped.
    case handBack

    /// - Parameters:
    ///   - writerAlive: the worker process that wrote the entry is still running.
    ///   - processAlive: the entry's process is still running (same pid and start time); for an
    ///     entry `starting`, a process of the run that no live worker supervises was found.
    ///   - current: the run's state on the server now; nil when the server does not know the run.
    ///   - currentState: the run's state now, with its transition id and scheduled time.
    public static func decide(
        entry: LedgerEntry, writerAlive: Bool, processAlive: Bool, current: StateType?, currentState: StateSnapshot? = nil,
        now: Date
    ) -> RecoveryDecision {
        if writerAlive { return .leave }
        guard let current, !current.isTerminal else { return .forget }
        switch entry.phase {
        case .claimed:
            // A claimed entry is written before the claim is proposed: a PENDING that is not this
            // claim's is another worker's (this one's proposal was refused, or never sent).
            if current == .pending, let claim = entry.claimTransitionId {
                switch ClaimDecision.stray(current: currentState, transitionId: claim) {
                case .none: return .forget
                case .handBack: return .report(notStarted(now: now))
                case .restorePrevious: return .restoreBeforeClaim(transitionId: claim)
                }
            }
            if current == .pending { return .report(notStarted(now: now)) }
            if current == .cancelling {
                return .report(FinalStateDecision.cancelledBeforeStart)
            }
            return .forget
        case .starting, .running:
            // `starting`: RUNNING may have been proposed and the process may have been started
            // before the worker died, so the run is treated as running whose process is gone.
            if processAlive { return .adopt }
            if current == .cancelling {
                return .report(StateProposal(
                    type: .cancelled, message: "Flow run was cancelled; its process had exited while the worker restarted.",
                    force: true))
            }
            if current == .scheduled || current == .paused { return .forget }
            if current == .pending, entry.reporting == StateReporting.engine.rawValue { return .handBack }
            // The worker proposes RUNNING before it starts a command it reports: still PENDING, the
            // command never started.
            if current == .pending, entry.phase == .starting { return .report(notStarted(now: now)) }
            if let exit = entry.recordedExit, let reporting = StateReporting(rawValue: entry.reporting) {
                // The process ended under the earlier worker, which saw how: the state it was
                // about to propose.
                return FinalStateDecision.afterExit(exit: exit, reporting: reporting, current: current).map { .report($0) } ?? .forget
            }
            guard let pid = entry.pid else {
                return .report(StateProposal(
                    type: .crashed,
                    message: "Worker restarted while it was starting the flow run's process; no process of the run is left, "
                        + "and whether it ran and how it ended is unknown."))
            }
            return .report(StateProposal(
                type: .crashed,
                message: "Worker restarted; the flow run's process (pid \(pid)) had exited while it was away, and its exit status "
                    + "is unknown."))
        }
    }

    /// Claimed, then the worker died before it started anything: the run never ran, so it is
    /// handed back, due now, rather than crashed.
    private static func notStarted(now: Date) -> StateProposal {
        var proposal = StateProposal(
            type: .scheduled, message: "Worker restarted before the flow run's process was started; rescheduled.", force: true)
        proposal.scheduledTime = now
        return proposal
    }
}
