import FoundationEssentials

/// What to do with the answer to a PENDING ("Pending") claim (docs/prefect-worker-protocol.md §4.2): only an ACCEPT that
/// leaves the run PENDING makes it ours; anything else means another worker or a rule has it.
public enum ClaimDecision: Equatable, Sendable {
    case launch
    case skip(reason: String)
    /// The claim landed on a run that was no longer SCHEDULED (a stale poll result: another worker
    /// had already run it, and the server accepts PENDING after a terminal state). Not ours: put
    /// the run's previous state back, and do not launch.
    case restorePrevious
    /// The server aborted the claim because the run's deployment no longer exists: nobody can
    /// ever claim it (see `FlowRunExecutor.endRunOfDeletedDeployment`).
    case deploymentMissing

    /// `transitionId` is the one the claim was sent with: when a retried claim is rejected as
    /// "already made this transition", the first attempt did land, and the run is ours.
    public init(answer: OrchestrationResult, transitionId: String) {
        switch answer.status {
        case .accept:
            if let state = answer.state, state.type == .pending, !state.leftScheduled {
                self = .restorePrevious
            } else if answer.state?.type == .pending || answer.state == nil {
                self = .launch
            } else {
                self = .skip(reason: "server accepted but moved the run to \(answer.state!.type.rawValue)")
            }
        case .abort where answer.details?.reason?.hasPrefix(Self.deploymentNotFound) ?? false:
            self = .deploymentMissing
        case .abort:
            self = .skip(reason: "aborted: \(answer.details?.reason ?? "no reason given")")
        case .reject where answer.state?.type == .pending && answer.state?.stateDetails?.transitionId == transitionId:
            self = answer.state!.leftScheduled ? .launch : .restorePrevious
        case .reject:
            let now = answer.state.map { " (run is now \($0.name ?? $0.type.defaultName))" } ?? ""
            self = .skip(reason: "rejected: \(answer.details?.reason ?? "no reason given")\(now)")
        case .wait:
            self = .skip(reason: "told to wait \(answer.details?.delaySeconds ?? 0) s; left for a later poll")
        }
    }
}

extension ClaimDecision {
    /// How the server's deployment concurrency rule words an ABORT for a deleted deployment.
    static let deploymentNotFound = "Deployment not found"

    /// After a claim went unanswered (5xx, connection lost), the run as read back decides: ours if
    /// PENDING with our transition id (the claim landed), still claimable if SCHEDULED (propose
    /// again, same transition id), anything else means another worker or a user has it.
    public enum Retry: Equatable, Sendable {
        case launch
        case restorePrevious
        case proposeAgain
        case skip(reason: String)
    }

    public static func afterUnansweredClaim(current: StateSnapshot?, transitionId: String) -> Retry {
        guard let current else { return .proposeAgain }
        switch current.type {
        case .pending where current.stateDetails?.transitionId == transitionId:
            return current.leftScheduled ? .launch : .restorePrevious
        case .scheduled:
            return .proposeAgain
        case .pending, .running, .completed, .failed, .cancelled, .crashed, .paused, .cancelling:
            return .skip(reason: "the run moved to \(current.name ?? current.type.defaultName) while the claim was unanswered")
        }
    }
}

extension ClaimDecision {
    /// A claim whose answer was lost and that the worker then gave up on (the run read back in
    /// another state, or the worker stopped) may still reach the server later: a request held
    /// by a proxy or a slow server is applied after its client stopped waiting. The server
    /// accepts PENDING even on a finished run, so such a claim re-opens it, or takes a run due
    /// again, with nobody to run it. Looked at again later (and by a restarted worker, from its
    /// ledger), the run says what to do.
    public enum StrayClaim: Equatable, Sendable {
        /// The run's state is not that claim's.
        case none
        /// The claim landed on a SCHEDULED run: give it back, due now.
        case handBack
        /// The claim landed on a run that had left SCHEDULED: put back the state it had.
        case restorePrevious
    }

    public static func stray(current: StateSnapshot?, transitionId: String) -> StrayClaim {
        guard let current, current.type == .pending, current.stateDetails?.transitionId == transitionId else { return .none }
        return current.leftScheduled ? .handBack : .restorePrevious
    }
}

extension ClaimDecision {
    /// Which of `transitions` (proposals of this worker with an attempt that went unanswered) the
    /// run's state is now, when that state is not final: the attempt landed after the worker had
    /// moved the run on (a RUNNING after its COMPLETED, a claim after another worker's run), and
    /// the state before it is to be put back. Nil when there is nothing to undo.
    public static func landedLate(current: StateSnapshot?, of transitions: Set<String>) -> String? {
        guard let current, !current.type.isTerminal, let transitionId = current.stateDetails?.transitionId,
            transitions.contains(transitionId)
        else { return nil }
        return transitionId
    }
}
