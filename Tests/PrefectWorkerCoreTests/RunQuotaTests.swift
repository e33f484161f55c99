import PrefectWorkerCore
import Testing

@Suite struct RunQuotaTests {
    @Test func noQuotaNeverRunsOut() {
        var quota = RunQuota(maxRuns: nil)
        var taken = 0
        for _ in 0..<1000 where quota.take() { taken += 1 }
        #expect(taken == 1000)
        #expect(quota.remaining == nil && !quota.isSpent)
    }

    @Test func claimsUnderWayHoldTheirPlaceAndLostOnesGiveItBack() {
        var quota = RunQuota(maxRuns: 2)
        let first = quota.take(), second = quota.take(), third = quota.take()
        #expect(first && second)
        #expect(!third, "two claims under way fill a quota of two")
        #expect(quota.remaining == 0 && !quota.isSpent)
        quota.settle(won: false)  // another worker won that one
        #expect(quota.remaining == 1)
        quota.settle(won: true)
        let again = quota.take()
        #expect(again)
        quota.settle(won: true)
        let beyond = quota.take()
        #expect(quota.isSpent && quota.remaining == 0 && !beyond)
    }
}
