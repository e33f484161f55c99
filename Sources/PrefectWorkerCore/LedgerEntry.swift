import Foundation

/// One run this worker holds, as written to its durable ledger so that a restarted worker knows
/// what it had claimed and launched (README, "Restart recovery").
public struct LedgerEntry: Codable, Sendable, Equatable {
    public enum Phase: String, Codable, Sendable {
        /// Claimed (PENDING for this worker); no process started yet.
        case claimed
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
    /// The engine's process is gone and the run is still PENDING: none of its code ran, so it is
    /// handed back (`HandBack`, which counts the earlier hand-backs), then the entry is dropped.
    case handBack

    /// - Parameters:
    ///   - writerAlive: the worker process that wrote the entry is still running.
    ///   - processAlive: the entry's process is still running (same pid and start time).
    ///   - current: the run's state on the server now; nil when the server does not know the run.
    public static func decide(entry: LedgerEntry, writerAlive: Bool, processAlive: Bool, current: StateType?, now: Date)
        -> RecoveryDecision
    {
        if writerAlive { return .leave }
        guard let current, !current.isTerminal else { return .forget }
        switch entry.phase {
        case .claimed:
            if current == .pending {
                // Claimed, then the worker died before it started anything: the run never ran, so it
                // is handed back, due now, rather than crashed.
                var proposal = StateProposal(
                    type: .scheduled, message: "Worker restarted before the flow run's process was started; rescheduled.",
                    force: true)
                proposal.scheduledTime = now
                return .report(proposal)
            }
            if current == .cancelling {
                return .report(FinalStateDecision.cancelledBeforeStart)
            }
            return .forget
        case .running:
            if processAlive { return .adopt }
            if current == .cancelling {
                return .report(StateProposal(
                    type: .cancelled, message: "Flow run was cancelled; its process had exited while the worker restarted.",
                    force: true))
            }
            if current == .scheduled || current == .paused { return .forget }
            if current == .pending, entry.reporting == StateReporting.engine.rawValue { return .handBack }
            return .report(StateProposal(
                type: .crashed,
                message: "Worker restarted; the flow run's process (pid \(entry.pid.map(String.init) ?? "?")) had exited "
                    + "while it was away, and its exit status is unknown."))
        }
    }
}
