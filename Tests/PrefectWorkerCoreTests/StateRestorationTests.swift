import PrefectWorkerCore
import Testing

@Suite struct StateRestorationTests {
    func state(_ time: String, _ type: String, _ name: String, transition: String? = nil, data: JSONValue = .null) -> JSONValue {
        [
            "timestamp": .string("2026-11-23T18:32:\(time)Z"), "type": .string(type), "name": .string(name),
            "message": .string("\(name) message"), "data": data,
            "state_details": ["transition_id": transition.map { .string($0) } ?? .null],
        ]
    }

    @Test func restoresTheStateTheRunHadBeforeOurClaim() throws {
        let history: [JSONValue] = [
            state("01.0", "SCHEDULED", "Scheduled"), state("02.0", "PENDING", "Pending", transition: "theirs"),
            state("03.0", "RUNNING", "Running"), state("04.0", "COMPLETED", "Completed", data: ["storage_key": "k"]),
            state("05.0", "PENDING", "Pending", transition: "ours"),
        ]
        let proposal = try #require(StateRestoration.previousState(in: history, before: "ours"))
        #expect(proposal.type == .completed && proposal.name == "Completed" && proposal.force)
        #expect(proposal.message == "Completed message")
        #expect(proposal.data == ["storage_key": "k"])
    }

    /// Timestamps are taken when a request arrives: under load our PENDING can sort before states
    /// that committed before it. The newest state that is not ours is the one to restore.
    @Test func ourClaimStampedEarlyStillRestoresTheNewestOtherState() throws {
        let history: [JSONValue] = [
            state("01.0", "SCHEDULED", "Scheduled"), state("02.0", "PENDING", "Pending", transition: "theirs"),
            state("02.5", "PENDING", "Pending", transition: "ours"), state("03.0", "RUNNING", "Running"),
            state("04.0", "FAILED", "Failed"),
        ]
        #expect(try #require(StateRestoration.previousState(in: history, before: "ours")).type == .failed)
    }

    @Test func aClaimThatFollowedScheduledIsRecognised() throws {
        let history: [JSONValue] = [state("01.0", "SCHEDULED", "Late"), state("05.0", "PENDING", "Pending", transition: "ours")]
        #expect(try #require(StateRestoration.previousState(in: history, before: "ours")).type == .scheduled)
    }

    @Test func nothingWhenOurClaimIsNotInTheHistory() {
        #expect(StateRestoration.previousState(in: [state("01.0", "SCHEDULED", "Scheduled")], before: "ours") == nil)
    }
}
