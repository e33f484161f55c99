/// What to do with the answer to a PENDING ("Pending") claim (protocol doc 4.2): only an ACCEPT that
/// leaves the run PENDING makes it ours; anything else means another worker or a rule has it.
public enum ClaimDecision: Equatable, Sendable {
    case launch
    case skip(reason: String)

    /// `transitionId` is the one the claim was sent with: when a retried claim is rejected as
    /// "already made this transition", the first attempt did land, and the run is ours.
    public init(answer: OrchestrationResult, transitionId: String) {
        switch answer.status {
        case .accept:
            if answer.state?.type == .pending || answer.state == nil {
                self = .launch
            } else {
                self = .skip(reason: "server accepted but moved the run to \(answer.state!.type.rawValue)")
            }
        case .abort:
            self = .skip(reason: "aborted: \(answer.details?.reason ?? "no reason given")")
        case .reject where answer.state?.type == .pending && answer.state?.stateDetails?.transitionId == transitionId:
            self = .launch
        case .reject:
            let now = answer.state.map { " (run is now \($0.name ?? $0.type.defaultName))" } ?? ""
            self = .skip(reason: "rejected: \(answer.details?.reason ?? "no reason given")\(now)")
        case .wait:
            self = .skip(reason: "told to wait \(answer.details?.delaySeconds ?? 0) s; left for a later poll")
        }
    }
}
