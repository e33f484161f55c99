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

    /// A run whose deployment was deleted: nobody can run it. Prefect's worker's words.
    public static func deploymentDeleted(_ deploymentId: String) -> StateProposal {
        StateProposal(type: .cancelled, message: "Deployment \(deploymentId) no longer exists, cancelled run.", force: true)
    }

    /// The state a run gets when its command could not be started at all.
    public static func spawnFailed(_ reason: String) -> StateProposal {
        StateProposal(type: .crashed, message: "Flow run could not start: \(reason)")
    }
}
