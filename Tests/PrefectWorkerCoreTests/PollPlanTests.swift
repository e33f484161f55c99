import Foundation
import PrefectWorkerCore
import Testing

@Suite struct PollPlanTests {
    let now = Date(timeIntervalSince1970: 1_700_000_000)

    @Test func noLimit() {
        let plan = PollPlan.make(now: now, prefetchSeconds: 10, freeSlots: nil)
        #expect(plan?.scheduledBefore == now.addingTimeInterval(10))
        #expect(plan != nil && plan?.limit == nil)
    }

    @Test(arguments: [(0, 2), (1, 1), (2, nil), (3, nil)] as [(Int, Int?)])
    func limitLeavesFreeSlots(_ inFlight: Int, _ expected: Int?) {
        let plan = PollPlan.make(now: now, prefetchSeconds: 10, freeSlots: 2 - inFlight)
        #expect(plan?.limit == expected)
        if expected != nil { #expect(plan?.scheduledBefore == now.addingTimeInterval(10)) } else { #expect(plan == nil) }
    }

    @Test func scheduledBeforeIsNowPlusPrefetch() {
        #expect(PollPlan.make(now: now, prefetchSeconds: 0, freeSlots: nil)?.scheduledBefore == now)
        #expect(PollPlan.make(now: now, prefetchSeconds: 2.5, freeSlots: 3)?.scheduledBefore == now.addingTimeInterval(2.5))
    }
}
