import PrefectWorkerCore
import Testing

@Suite struct HandingOnProposalTests {
    /// Only a forced state that is not final lets another worker take the run once it landed; a
    /// final state landing twice leaves the run final, and an unforced one is refused on a run
    /// someone else moved on.
    @Test(arguments: [
        (StateProposal(type: .scheduled, force: true), true),
        (StateProposal(type: .pending, force: true), true),
        (StateProposal(type: .scheduled), false),
        (StateProposal(type: .cancelled, force: true), false),
        (StateProposal(type: .crashed, force: true), false),
        (StateProposal(type: .completed), false),
    ])
    func onlyForcedStatesThatAreNotFinalAreReadBack(_ proposal: StateProposal, readsBack: Bool) {
        #expect(HandingOnProposal.readsBackBeforeRetrying(proposal) == readsBack)
    }

    @Test func anAttemptLandedWhenAStateOfTheHistoryCarriesItsTransitionId() {
        func state(_ type: String, _ transition: String?) -> JSONValue {
            ["type": .string(type), "state_details": ["transition_id": transition.map { .string($0) } ?? .null]]
        }
        // Ours landed, then another worker claimed and started the run.
        let movedOn = [state("RUNNING", "dead-worker"), state("SCHEDULED", "ours"), state("PENDING", "theirs"), state("RUNNING", "theirs")]
        #expect(HandingOnProposal.landed("ours", in: movedOn))
        #expect(!HandingOnProposal.landed("ours", in: [state("RUNNING", "dead-worker"), state("RUNNING", nil)]))
        #expect(!HandingOnProposal.landed("ours", in: []))
    }
}
