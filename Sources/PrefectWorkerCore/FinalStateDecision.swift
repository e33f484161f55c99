/// After a child exits, which state (if any) the worker proposes, given who reports states and what
/// the server says the run is in now. The server's current state is the authority: a run that is
/// already terminal, or was handed back (SCHEDULED, PAUSED), is never touched, so worker and engine
/// never fight.
public enum FinalStateDecision {
    public static func afterExit(
        exit: ProcessExit, reporting: StateReporting, current: StateType?
    ) -> StateProposal? {
        if let current, current.isTerminal { return nil }
        // Handed back for later by the engine or the server (a paused flow, a retry, a
        // concurrency slot): another poll picks it up again, so there is nothing to report.
        if current == .scheduled || current == .paused { return nil }
        if current == .cancelling {
            return StateProposal(type: .cancelled, message: "Flow run was cancelled; the process \(exit).", force: true)
        }
        if exit == .unknown {
            return StateProposal(type: .crashed, message: "Worker restarted; the flow run's process \(exit).")
        }
        switch reporting {
        case .worker:
            if exit.isSuccess {
                return StateProposal(type: .completed, message: "Command \(exit).")
            }
            return StateProposal(type: .failed, message: "Command \(exit).")
        case .engine:
            if exit.isSuccess {
                return StateProposal(
                    type: .crashed,
                    message: "Process exited with code 0 without reporting a final state; if the command is not a "
                        + "Prefect engine, set the job variable state_reporting to \"worker\".")
            }
            return StateProposal(type: .crashed, message: "Process \(exit).")
        }
    }

    /// What the engine's control channel settles without asking the server.
    public enum Settlement: Equatable, Sendable {
        /// Nothing to read and nothing to propose; the state, when it is known.
        case settled(StateType?)
        /// Read the run's current state and decide from the outcome.
        case readState
    }

    /// A receipt of a final or paused state settles the run (the engine reported it, so the read
    /// after the exit that would confirm it is saved); so does a receipt that the server aborted
    /// the engine's proposal (orchestration has the run) and a relinquished run (its
    /// infrastructure retries it). A cancel or reschedule the engine acknowledged leaves the next
    /// state to the worker, which reads the run first, as without a conclusion. So does a timeout:
    /// the engine's CRASHED says "aborted by a termination signal", and the worker's says why.
    public static func settlement(of conclusion: AttemptConclusion?, outcome: RunOutcome? = nil) -> Settlement {
        if case .stopped(.timedOut, _)? = outcome { return .readState }
        switch conclusion {
        case .stateReported(let type, _)?:
            guard let state = StateType(rawValue: type), state.isTerminal || state == .paused else { return .readState }
            return .settled(state)
        case .orchestrationAborted?, .delegated(.relinquish)?:
            return .settled(nil)
        case .delegated(.cancel)?, .delegated(.reschedule)?, nil:
            return .readState
        }
    }

    /// Whether the worker runs the flow's `on_crashed` hooks after its final report: only when its
    /// own CRASHED was accepted for an engine run whose engine had reported no final state
    /// (`before`, the state read before the proposal). An engine that reported CRASHED ran them
    /// in-process, also when the worker then writes its own reason over it (a timeout); a command
    /// has no flow to load.
    public static func runsCrashedHooks(
        reporting: StateReporting, before: StateType?, proposed: StateProposal?, answer: OrchestrationResult.Status?
    ) -> Bool {
        guard reporting == .engine, proposed?.type == .crashed, answer == .accept else { return false }
        return !(before?.isTerminal ?? false)
    }

    /// A run whose deployment was deleted: nobody can run it. Prefect's worker's words.
    public static func deploymentDeleted(_ deploymentId: String) -> StateProposal {
        StateProposal(type: .cancelled, message: "Deployment \(deploymentId) no longer exists, cancelled run.", force: true)
    }

    /// The state a run gets when its command could not be started at all.
    public static func spawnFailed(_ reason: String) -> StateProposal {
        StateProposal(type: .crashed, message: "Flow run could not start: \(reason)")
    }
}
