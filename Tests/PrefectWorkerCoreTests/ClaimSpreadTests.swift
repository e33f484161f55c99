import Foundation
import PrefectWorkerCore
import Testing

@Suite struct ClaimSpreadTests {
    let t0 = Date(timeIntervalSince1970: 1_800_000_000)

    @Test(arguments: [
        (1, false, 0), (20, false, 0), (0, true, 0), (1, true, 19), (5, true, 15), (20, true, 60), (40, true, 100), (500, true, 100),
    ] as [(Int, Bool, Int)])
    func aContendedPollAsksForAWindowOfFourRunsPerFreeSlotAndAtLeastTwenty(_ freeSlots: Int, _ contended: Bool, _ extra: Int) {
        #expect(ClaimSpread.extra(freeSlots: freeSlots, contended: contended) == extra)
    }

    @Test func anUncontendedWorkerProposesInTheServersOrder() {
        var random = SystemRandomNumberGenerator()
        let due = Array(0..<50)
        #expect(ClaimSpread.order(due, contended: false, using: &random) == due)
    }

    @Test func aContendedWorkerProposesEveryDueRunInSomeOrder() {
        var random = SystemRandomNumberGenerator()
        let due = Array(0..<50)
        let orders = (0..<5).map { _ in ClaimSpread.order(due, contended: true, using: &random) }
        for order in orders { #expect(order.sorted() == due) }
        // Five shuffles of 50 all equal to the server's order: about 1 in 10^320.
        #expect(orders.contains { $0 != due })
    }

    @Test(arguments: [
        (ClaimBackoff.Refusal.other, 0.0, true), (.other, 59.9, true), (.other, 60, false), (.waitingForSlot, 0, false),
    ])
    func aLostClaimCountsAsContentionForAMinute(_ refusal: ClaimBackoff.Refusal, _ later: Double, _ contended: Bool) {
        var backoff = ClaimBackoff()
        #expect(!backoff.isContended(now: t0))
        backoff.refused("r", now: t0, refusal: refusal)
        #expect(backoff.isContended(now: t0.addingTimeInterval(later)) == contended)
    }
}
