import Foundation
import PrefectWorkerCore
import Testing

struct ClaimCase: Sendable, CustomTestStringConvertible {
    var name: String
    var answer: OrchestrationResult
    var launches: Bool
    var testDescription: String { name }
}

private let ours = "transition-ours"

private let claimCases: [ClaimCase] = [
    ClaimCase(name: "ACCEPT PENDING", answer: .init(status: .accept, state: .init(type: .pending, name: "Pending", scheduledTime: "2026-11-23T18:00:00Z")), launches: true),
    ClaimCase(name: "ACCEPT without state", answer: .init(status: .accept), launches: true),
    ClaimCase(name: "ACCEPT RUNNING", answer: .init(status: .accept, state: .init(type: .running)), launches: false),
    ClaimCase(name: "ACCEPT CANCELLED", answer: .init(status: .accept, state: .init(type: .cancelled)), launches: false),
    ClaimCase(name: "ABORT", answer: .init(status: .abort, details: .init(reason: "gone")), launches: false),
    ClaimCase(name: "REJECT", answer: .init(status: .reject, state: .init(type: .running)), launches: false),
    ClaimCase(name: "REJECT without state", answer: .init(status: .reject), launches: false),
    ClaimCase(
        name: "REJECT PENDING with our transition id",
        answer: .init(status: .reject, state: .init(type: .pending, transitionId: ours, scheduledTime: "2026-11-23T18:00:00Z")), launches: true),
    ClaimCase(
        name: "REJECT PENDING with another transition id",
        answer: .init(status: .reject, state: .init(type: .pending, transitionId: "someone-else")), launches: false),
    ClaimCase(name: "REJECT PENDING without transition id", answer: .init(status: .reject, state: .init(type: .pending)), launches: false),
    ClaimCase(name: "WAIT", answer: .init(status: .wait, details: .init(delaySeconds: 5)), launches: false),
]

@Suite struct ClaimDecisionTests {
    @Test(arguments: claimCases)
    func decision(_ row: ClaimCase) {
        let decision = ClaimDecision(answer: row.answer, transitionId: ours)
        if row.launches {
            #expect(decision == .launch)
        } else {
            guard case .skip(let reason) = decision else {
                Issue.record("expected skip, got \(decision)")
                return
            }
            #expect(!reason.isEmpty)
        }
    }

    @Test func anAbortForAMissingDeploymentIsToldApart() {
        #expect(ClaimDecision(answer: .init(status: .abort, details: .init(reason: "Deployment not found.")), transitionId: ours)
            == .deploymentMissing)
        #expect(ClaimDecision(
            answer: .init(status: .abort, details: .init(reason: "The deployment concurrency limit is 0. The flow will deadlock if submitted again.")),
            transitionId: ours) == .skip(reason: "aborted: The deployment concurrency limit is 0. The flow will deadlock if submitted again."))
    }

    @Test func skipReasonsNameWhatHappened() {
        #expect(ClaimDecision(answer: .init(status: .abort, details: .init(reason: "gone")), transitionId: ours)
            == .skip(reason: "aborted: gone"))
        #expect(ClaimDecision(answer: .init(status: .accept, state: .init(type: .running)), transitionId: ours)
            == .skip(reason: "server accepted but moved the run to RUNNING"))
    }
}

@Suite struct UnansweredClaimTests {
    @Test func pendingWithOurTransitionMeansTheClaimLanded() {
        let current = StateSnapshot(type: .pending, name: "Pending", transitionId: "ours", scheduledTime: "2026-11-23T18:00:00Z")
        #expect(ClaimDecision.afterUnansweredClaim(current: current, transitionId: "ours") == .launch)
    }

    @Test func stillScheduledMeansProposeAgain() {
        #expect(ClaimDecision.afterUnansweredClaim(current: StateSnapshot(type: .scheduled, name: "Late"), transitionId: "ours") == .proposeAgain)
        #expect(ClaimDecision.afterUnansweredClaim(current: nil, transitionId: "ours") == .proposeAgain)
    }

    /// PENDING is accepted again after a terminal state, so re-sending the claim to a run another
    /// worker finished meanwhile would run it twice: anything but SCHEDULED is somebody else's.
    @Test(arguments: [StateType.pending, .running, .completed, .failed, .crashed, .cancelled, .cancelling, .paused])
    func anyOtherStateMeansSomebodyElseHasIt(_ type: StateType) {
        let current = StateSnapshot(type: type, transitionId: "theirs")
        guard case .skip = ClaimDecision.afterUnansweredClaim(current: current, transitionId: "ours") else {
            Issue.record("\(type) must not be claimed again")
            return
        }
    }
}

@Suite struct StaleClaimTests {
    @Test func acceptedPendingWithoutScheduledTimeLandedOnAFinishedRun() {
        let answer = OrchestrationResult(status: .accept, state: StateSnapshot(type: .pending, transitionId: "ours"))
        #expect(ClaimDecision(answer: answer, transitionId: "ours") == .restorePrevious)
    }

    @Test func acceptedPendingWithScheduledTimeLeftScheduled() {
        let answer = OrchestrationResult(
            status: .accept, state: StateSnapshot(type: .pending, transitionId: "ours", scheduledTime: "2026-11-23T18:32:00Z"))
        #expect(ClaimDecision(answer: answer, transitionId: "ours") == .launch)
    }
}

/// A claim given up after an unanswered attempt, looked at again later.
@Suite struct StrayClaimTests {
    static let scheduledTime = "2026-11-30T12:00:00Z"

    @Test(arguments: [
        (StateSnapshot(type: .pending, transitionId: "mine", scheduledTime: scheduledTime), ClaimDecision.StrayClaim.handBack),
        (StateSnapshot(type: .pending, transitionId: "mine"), .restorePrevious),  // landed on a finished run
        (StateSnapshot(type: .pending, transitionId: "other", scheduledTime: scheduledTime), .none),
        (StateSnapshot(type: .running, transitionId: "other"), .none),
        (StateSnapshot(type: .completed, transitionId: "other"), .none),
        (StateSnapshot(type: .scheduled), .none),
    ] as [(StateSnapshot, ClaimDecision.StrayClaim)])
    func theRunsStateSaysWhatToDo(_ current: StateSnapshot, _ expected: ClaimDecision.StrayClaim) {
        #expect(ClaimDecision.stray(current: current, transitionId: "mine") == expected)
    }

    /// The live worker's second look: the state of a late attempt is undone unless it is final.
    @Test(arguments: [
        (StateSnapshot(type: .running, transitionId: "late-running"), "late-running"),  // after COMPLETED
        (StateSnapshot(type: .pending, transitionId: "late-claim"), "late-claim"),
        (StateSnapshot(type: .scheduled, transitionId: "late-scheduled"), "late-scheduled"),  // a hand-back after a finish
        (StateSnapshot(type: .completed, transitionId: "late-running"), nil),  // final: kept
        (StateSnapshot(type: .running, transitionId: "someone-else"), nil),
        (StateSnapshot(type: .running), nil),
    ] as [(StateSnapshot, String?)])
    func aLateAttemptsStateIsUndoneUnlessFinal(_ current: StateSnapshot, _ expected: String?) {
        #expect(ClaimDecision.landedLate(current: current, of: ["late-running", "late-claim", "late-scheduled"]) == expected)
    }
}

/// A proposal resent after its answer was lost.
@Suite struct ResentProposalTests {
    static let duplicate = OrchestrationResult.Details(reason: "This run has already made this state transition.")

    @Test func aRejectCarryingTheSameTransitionIdIsTheEarlierAttemptsAcceptance() {
        let answer = OrchestrationResult(status: .reject, state: StateSnapshot(type: .running, transitionId: "t1"), details: Self.duplicate)
        #expect(answer.landed(transitionId: "t1").status == .accept)
        #expect(answer.landed(transitionId: "t1").state?.type == .running)
    }

    @Test(arguments: [
        OrchestrationResult(status: .reject, state: StateSnapshot(type: .cancelling, transitionId: "t2")),
        OrchestrationResult(status: .reject, state: nil),
        OrchestrationResult(status: .abort, state: StateSnapshot(type: .running, transitionId: "t1")),
        OrchestrationResult(status: .accept, state: StateSnapshot(type: .running, transitionId: "t1")),
    ])
    func everyOtherAnswerIsLeftAsItIs(_ answer: OrchestrationResult) {
        #expect(answer.landed(transitionId: "t1") == answer)
    }
}
