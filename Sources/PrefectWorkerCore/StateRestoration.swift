/// Undoing a claim that landed on a run that had already finished: the state the run had before our
/// PENDING is proposed again, as it was (type, name, message, result data), with force.
///
/// A state's timestamp is taken when its request arrives, not when it commits, so under a busy
/// server our PENDING can sort before states that committed earlier. The state to restore is
/// therefore the newest state that is not ours, not the one sorted just before ours.
public enum StateRestoration {
    /// `history` is what `GET /flow_run_states/?flow_run_id=` returns.
    public static func previousState(in history: [JSONValue], before transitionId: String) -> StateProposal? {
        let others = history
            .filter { $0["state_details"]?["transition_id"]?.stringValue != transitionId }
            .sorted { ($0["timestamp"]?.stringValue ?? "") < ($1["timestamp"]?.stringValue ?? "") }
        guard others.count < history.count, let previous = others.last,
            let type = previous["type"]?.stringValue.flatMap(StateType.init(rawValue:))
        else { return nil }
        var proposal = StateProposal(
            type: type, name: previous["name"]?.stringValue, message: previous["message"]?.stringValue, force: true)
        if let data = previous["data"], !data.isNull { proposal.data = data }
        return proposal
    }
}
