import Foundation
import PrefectWorkerCore
import Testing

@Suite struct LoopHealthTests {
    let start = Date(timeIntervalSince1970: 1_000_000)

    func health(heartbeatAgo: Double?, pollAgo: Double?, draining: Bool = false) -> LoopHealth {
        LoopHealth(
            lastHeartbeat: heartbeatAgo.map { start.addingTimeInterval(-$0) },
            lastPoll: pollAgo.map { start.addingTimeInterval(-$0) }, isDraining: draining)
    }

    @Test(arguments: [
        // heartbeat 30 s (stale after 90 s), query 10 s (stale after 30 s)
        (Optional(1.0), Optional(1.0), false, true),
        (90, 30, false, true),
        (91, 1, false, false),
        (1, 31, false, false),
        (nil, 1, false, false),
        (1, nil, false, false),
        (1, nil, true, true),
        (1, 500, true, true),
        (91, 1, true, false),
    ] as [(Double?, Double?, Bool, Bool)])
    func healthyOnlyWhileBothLoopsSucceedRecently(_ heartbeatAgo: Double?, _ pollAgo: Double?, _ draining: Bool, _ expected: Bool) {
        let value = health(heartbeatAgo: heartbeatAgo, pollAgo: pollAgo, draining: draining)
        #expect(value.isHealthy(now: start, heartbeatSeconds: 30, querySeconds: 10) == expected)
    }

    @Test func shortIntervalsStillAllowTenSeconds() {
        #expect(LoopHealth.staleAfter(interval: 1) == 10)
        #expect(LoopHealth.staleAfter(interval: 30) == 90)
        #expect(health(heartbeatAgo: 9, pollAgo: 9).isHealthy(now: start, heartbeatSeconds: 2, querySeconds: 1))
        #expect(!health(heartbeatAgo: 11, pollAgo: 1).isHealthy(now: start, heartbeatSeconds: 2, querySeconds: 1))
    }

    @Test func statusLineSaysWhatTheWorkerDoes() {
        let now = start
        let serving = WorkerStatus.text(
            phase: .serving, pool: "p", inFlight: 2, limit: 4, health: health(heartbeatAgo: 1, pollAgo: 3), healthy: true, now: now)
        // 1,000,000 s after the epoch is 13:46:40 UTC; the poll was 3 s before.
        #expect(serving == "Serving pool 'p': 2/4 flow run(s) in flight, last poll at 13:46:37 UTC")
        let down = WorkerStatus.text(
            phase: .serving, pool: "p", inFlight: 0, limit: nil, health: health(heartbeatAgo: 60, pollAgo: 60), healthy: false, now: now)
        #expect(down == "Serving pool 'p': 0 flow run(s) in flight, last poll at 13:45:40 UTC; the Prefect server is not answering")
        let first = WorkerStatus.text(
            phase: .serving, pool: "p", inFlight: 0, limit: nil, health: health(heartbeatAgo: 0, pollAgo: nil), healthy: false, now: now)
        #expect(first == "Serving pool 'p': 0 flow run(s) in flight, first poll under way")
        let draining = WorkerStatus.text(
            phase: .draining, pool: "p", inFlight: 1, limit: nil, health: LoopHealth(), healthy: true, now: now)
        #expect(draining == "Stopping: waiting for 1 flow run(s) in flight to finish; claiming nothing new")
    }
}
