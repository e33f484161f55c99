import Foundation
import PrefectWorkerCore
import Testing

@Suite struct PollCadenceTests {
    let now = Date(timeIntervalSince1970: 1_795_445_716)
    let cadence = PollCadence(querySeconds: 2, prefetchSeconds: 10)

    func run(_ id: String, startsIn seconds: Double?) -> ScheduledFlowRun {
        var flowRun = FlowRun(id: id, name: id, flowId: "f")
        flowRun.nextScheduledStartTime = seconds.map { RFC3339.format(now.addingTimeInterval($0)) }
        return ScheduledFlowRun(flowRun: flowRun)
    }

    @Test func withoutTheStreamItPollsEveryQueryIntervalAndLooksNoFurther() {
        #expect(cadence.interval(streamSubscribed: false) == 2)
        #expect(cadence.lookaheadSeconds(streamSubscribed: false) == 0)
        #expect(cadence.wait(now: now, streamSubscribed: false, nextClaimAt: nil) == 2)
    }

    @Test func withTheStreamItPollsEveryThirtySecondsAndLooksThatFarAhead() {
        #expect(cadence.interval(streamSubscribed: true) == 30)
        #expect(cadence.lookaheadSeconds(streamSubscribed: true) == 30)
        #expect(PollCadence(querySeconds: 45, prefetchSeconds: 10).interval(streamSubscribed: true) == 45)
    }

    @Test func claimsWhatIsDueWithinThePrefetchWindowAndRemembersTheRest() {
        let runs = [run("late", startsIn: -5), run("now", startsIn: 0), run("edge", startsIn: 10), run("ahead", startsIn: 25),
                    run("further", startsIn: 38), run("unknown", startsIn: nil)]
        let (due, nextClaimAt) = cadence.split(runs, now: now)
        #expect(due.map(\.flowRun.id) == ["late", "now", "edge", "unknown"])
        #expect(nextClaimAt == now.addingTimeInterval(15))  // 25 s ahead, claimed 10 s (prefetch) early
    }

    @Test func wakesUpWhenTheEarliestRunAheadComesDue() {
        #expect(cadence.wait(now: now, streamSubscribed: true, nextClaimAt: now.addingTimeInterval(15)) == 15)
        #expect(cadence.wait(now: now, streamSubscribed: true, nextClaimAt: now.addingTimeInterval(60)) == 30)
        #expect(cadence.wait(now: now, streamSubscribed: true, nextClaimAt: now.addingTimeInterval(-1)) == 0)
        #expect(cadence.wait(now: now, streamSubscribed: false, nextClaimAt: now.addingTimeInterval(1)) == 1)
    }
}
