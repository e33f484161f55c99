import FoundationEssentials

/// A Prefect engine that exits while its run is still in the worker's PENDING never reached
/// RUNNING, so none of the flow's code ran: the engine proposes RUNNING before it runs anything.
/// Most often it could not reach the server (a restart, a deploy, a network blip) and gave up on its
/// first call. Such a run is not CRASHED, which nobody would retry, but handed back: SCHEDULED, due
/// now, so it runs exactly once, here or on another worker. A run that keeps failing that way (a
/// broken entrypoint fails before RUNNING too) is handed back at most `limit` times, counted in its
/// state history so every worker counts the same; then it is CRASHED, naming the attempts.
///
/// An exit with code 0 is not handed back: an engine that exits cleanly without reporting is a
/// command that is not an engine (see `state_reporting`), and retrying it would not help. An exit
/// the worker could not see (the process ended while the worker restarted) is handed back too:
/// PENDING says enough.
public enum HandBack {
    public static let limit = 3
    /// What marks a hand-back in a state's message, so the history can be counted.
    static let marker = "(hand-back "

    /// True when the run is handed back rather than CRASHED: an engine run whose process failed
    /// while the run was still PENDING.
    public static func applies(exit: ProcessExit, reporting: StateReporting, current: StateType?) -> Bool {
        reporting == .engine && current == .pending && !exit.isSuccess
    }

    /// How many times the run was handed back already (`history` as `GET /flow_run_states/` gives it).
    public static func count(in history: [JSONValue]) -> Int {
        history.count { state in
            state["type"]?.stringValue == StateType.scheduled.rawValue
                && (state["message"]?.stringValue?.contains(marker) ?? false)
        }
    }

    /// SCHEDULED due `now` while under the limit; CRASHED naming the attempts once it is reached.
    public static func proposal(exit: ProcessExit, previousHandBacks: Int, now: Date) -> StateProposal {
        let what = "The flow run's process \(exit) before the flow started (the run was still Pending), so none of its code ran"
        guard previousHandBacks < limit else {
            return StateProposal(
                type: .crashed,
                message: "\(what); it was handed back \(previousHandBacks) times already and failed the same way each time. "
                    + "Giving up: check that the engine can reach the Prefect server and load the flow.")
        }
        var proposal = StateProposal(
            type: .scheduled,
            message: "\(what); most likely it could not reach the Prefect server. Handed back to run again "
                + "\(marker)\(previousHandBacks + 1) of \(limit)).",
            force: true)
        proposal.scheduledTime = now
        return proposal
    }
}
