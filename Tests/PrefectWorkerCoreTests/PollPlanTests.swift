import Foundation
import PrefectWorkerCore
import Testing

@Suite struct PollPlanTests {
    let now = Date(timeIntervalSince1970: 1_700_000_000)

    @Test func noLimit() {
        let plan = PollPlan.make(now: now, prefetchSeconds: 10, limit: nil, inFlight: 50)
        #expect(plan?.scheduledBefore == now.addingTimeInterval(10))
        #expect(plan != nil && plan?.limit == nil)
    }

    @Test(arguments: [(0, 2), (1, 1), (2, nil), (3, nil)] as [(Int, Int?)])
    func limitLeavesFreeSlots(_ inFlight: Int, _ expected: Int?) {
        let plan = PollPlan.make(now: now, prefetchSeconds: 10, limit: 2, inFlight: inFlight)
        #expect(plan?.limit == expected)
        if expected != nil { #expect(plan?.scheduledBefore == now.addingTimeInterval(10)) } else { #expect(plan == nil) }
    }

    @Test func scheduledBeforeIsNowPlusPrefetch() {
        #expect(PollPlan.make(now: now, prefetchSeconds: 0, limit: nil, inFlight: 0)?.scheduledBefore == now)
        #expect(PollPlan.make(now: now, prefetchSeconds: 2.5, limit: 4, inFlight: 1)?.scheduledBefore == now.addingTimeInterval(2.5))
    }
}
