import Foundation
import PrefectWorkerCore
import Testing

@Suite struct ClaimBackoffTests {
    let t0 = Date(timeIntervalSince1970: 1_800_000_000)

    @Test(arguments: zip(1...9, [5, 10, 20, 40, 80, 160, 300, 300, 300] as [Double]))
    func thePauseDoublesUpToTheCap(_ refusals: Int, _ expected: Double) {
        #expect(ClaimBackoff(base: 5, cap: 300).pause(afterRefusals: refusals) == expected)
    }

    @Test func aRefusedRunIsPausedThenClaimableAgain() {
        var backoff = ClaimBackoff(base: 5, cap: 300)
        #expect(backoff.refused("r", now: t0) == 5)
        #expect(backoff.isPaused("r", now: t0.addingTimeInterval(4.9)))
        #expect(!backoff.isPaused("r", now: t0.addingTimeInterval(5)))
        #expect(!backoff.isPaused("other", now: t0))
    }

    @Test func eachRefusalInARowPausesLonger() {
        var backoff = ClaimBackoff(base: 5, cap: 300)
        var now = t0
        var pauses: [Double] = []
        for _ in 0..<4 {
            let pause = backoff.refused("r", now: now)
            pauses.append(pause)
            now = now.addingTimeInterval(pause)  // proposed again as soon as the pause ends
        }
        #expect(pauses == [5, 10, 20, 40])
    }

    @Test func aWaitLongerThanThePauseIsHonoured() {
        var backoff = ClaimBackoff(base: 5, cap: 300)
        #expect(backoff.refused("r", now: t0, serverDelay: 42) == 42)
        #expect(backoff.refused("s", now: t0, serverDelay: 1) == 5)
    }

    @Test func aRunWaitingForASlotPausesAtMostTheSlotCap() {
        var backoff = ClaimBackoff(base: 5, cap: 300, slotCap: 30)
        var now = t0
        var pauses: [Double] = []
        for _ in 0..<6 {
            let pause = backoff.refused("r", deploymentId: "d", now: now, refusal: .waitingForSlot)
            pauses.append(pause)
            now = now.addingTimeInterval(pause)
        }
        #expect(pauses == [5, 10, 20, 30, 30, 30])
        #expect(backoff.refused("w", now: t0, serverDelay: 45, refusal: .waitingForSlot) == 45, "the server's WAIT still wins")
    }

    @Test func aSlotFreedByARunOfTheDeploymentEndsThePausesOfItsRunsOnly() {
        var backoff = ClaimBackoff(base: 5, cap: 300)
        backoff.refused("a", deploymentId: "d1", now: t0, refusal: .waitingForSlot)
        backoff.refused("a", deploymentId: "d1", now: t0, refusal: .waitingForSlot)
        backoff.refused("b", deploymentId: "d1", now: t0)
        backoff.refused("c", deploymentId: "d2", now: t0, refusal: .waitingForSlot)
        backoff.refused("n", now: t0)
        let later = t0.addingTimeInterval(1)
        backoff.slotFreed(deploymentId: "d1", now: later)
        #expect(!backoff.isPaused("a", now: later) && !backoff.isPaused("b", now: later))
        #expect(backoff.isPaused("c", now: later) && backoff.isPaused("n", now: later))
        #expect(backoff.refused("a", deploymentId: "d1", now: later, refusal: .waitingForSlot) == 20, "its refusals still count")
    }

    @Test(arguments: [
        (OrchestrationResult(status: .wait, details: .init(delaySeconds: 5)), ClaimBackoff.Refusal.waitingForSlot),
        (OrchestrationResult(status: .reject, state: StateSnapshot(type: .scheduled, name: "AwaitingConcurrencySlot")), .waitingForSlot),
        (OrchestrationResult(status: .reject, state: StateSnapshot(type: .cancelled, name: "Cancelled")), .other),
        (OrchestrationResult(status: .abort, details: .init(reason: "not SCHEDULED")), .other),
    ])
    func whichRefusalsAreWaitsForASlot(_ answer: OrchestrationResult, _ expected: ClaimBackoff.Refusal) {
        #expect(ClaimBackoff.Refusal(answer: answer) == expected)
    }

    @Test func aClaimedRunIsForgotten() {
        var backoff = ClaimBackoff(base: 5, cap: 300)
        backoff.refused("r", now: t0)
        backoff.refused("r", now: t0)
        backoff.forget("r")
        #expect(!backoff.isPaused("r", now: t0))
        #expect(backoff.refused("r", now: t0) == 5)
    }

    @Test func refusalsAreForgottenACapAfterThePauseEnded() {
        var backoff = ClaimBackoff(base: 5, cap: 60)
        backoff.refused("r", now: t0)  // paused until t0 + 5
        backoff.prune(now: t0.addingTimeInterval(64))
        #expect(backoff.entries["r"] != nil)
        backoff.prune(now: t0.addingTimeInterval(65))
        #expect(backoff.entries["r"] == nil)
        #expect(backoff.refused("r", now: t0.addingTimeInterval(65)) == 5, "counted from one again")
    }

    @Test func memoryIsBoundedAndTheSoonestEndingPauseMakesRoom() {
        var backoff = ClaimBackoff(base: 5, cap: 300, capacity: 3)
        backoff.refused("a", now: t0)
        backoff.refused("b", now: t0.addingTimeInterval(1))
        backoff.refused("c", now: t0.addingTimeInterval(2))
        backoff.refused("d", now: t0.addingTimeInterval(3))
        #expect(backoff.entries.count == 3)
        #expect(Set(backoff.entries.keys) == ["b", "c", "d"])
        for index in 0..<5000 { backoff.refused("run-\(index)", now: t0.addingTimeInterval(4)) }
        #expect(backoff.entries.count == 3)
    }

    @Test func pausedCountCountsOnlyRunsStillPaused() {
        var backoff = ClaimBackoff(base: 5, cap: 300)
        backoff.refused("a", now: t0)
        backoff.refused("b", now: t0)
        backoff.refused("b", now: t0)  // 10 s
        #expect(backoff.pausedCount(now: t0.addingTimeInterval(1)) == 2)
        #expect(backoff.pausedCount(now: t0.addingTimeInterval(6)) == 1)
        #expect(backoff.pausedCount(now: t0.addingTimeInterval(11)) == 0)
    }
}
