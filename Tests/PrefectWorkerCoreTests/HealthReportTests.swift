import Foundation
import PrefectWorkerCore
import Testing

@Suite struct HealthReportTests {
    let now = Date(timeIntervalSince1970: 1_795_445_716)

    func facts(
        lastHeartbeat: Double? = -1, lastPoll: Double? = -1, draining: Bool = false, startedAgo: Double = 100, querySeconds: Double = 2,
        intervals: Double = 30
    ) -> HealthReport.Facts {
        HealthReport.Facts(
            health: LoopHealth(
                lastHeartbeat: lastHeartbeat.map { now.addingTimeInterval($0) }, lastPoll: lastPoll.map { now.addingTimeInterval($0) },
                isDraining: draining),
            now: now, heartbeatSeconds: 30, pollSeconds: 2, inFlight: 1, limit: 4, startedAt: now.addingTimeInterval(-startedAgo),
            querySeconds: querySeconds, livenessPollIntervals: intervals)
    }

    func answer(_ path: String, _ facts: HealthReport.Facts, method: String = "GET") -> HealthReport.Answer {
        HealthReport.answer(method: method, path: path, facts: facts)
    }

    @Test func healthyLoopsAnswerExactlyWhatPrefectsWorkerAnswers() {
        #expect(answer("/health", facts()) == .init(status: 200, body: .object(["message": .string("OK")])))
        #expect(answer("/health/ready", facts()).status == 200)
        #expect(answer("/health/live", facts()).status == 200)
    }

    @Test func readinessIsStrictLivenessWaitsThirtyQueryIntervals() {
        // Ready: max(3 poll intervals, 10 s) = 10 s. Live (/health): 30 query intervals = 60 s here.
        #expect(answer("/health/ready", facts(lastPoll: -9.9)).status == 200)
        #expect(answer("/health/ready", facts(lastPoll: -10.5)).status == 503)
        #expect(answer("/health", facts(lastPoll: -10.5)).status == 200, "a server blip does not fail the liveness probe")
        #expect(answer("/health", facts(lastPoll: -59.9)).status == 200)
        let stale = answer("/health", facts(lastPoll: -60.5))
        #expect(stale.status == 503)
        #expect(stale.body["message"] == .string("Worker may be unresponsive at this time"))
        #expect(stale.body["last_poll_s_ago"] == .number(60.5))
        #expect(stale.body["poll_stale_after_s"] == .number(60))
        #expect(answer("/health/live", facts(lastPoll: -60.5)).status == 200, "alive is alive")
    }

    @Test(arguments: [
        // (query seconds, intervals, seconds since the last poll, /health status)
        (10.0, 30.0, 299.0, 200), (10.0, 30.0, 301.0, 503),  // Prefect's default: 300 s
        (5.0, 30.0, 40.0, 200), (5.0, 30.0, 151.0, 503),
        (5.0, 2.0, 11.0, 503), (5.0, 2.0, 9.0, 200),  // a smaller factor, still never below the ready threshold (10 s)
        (1.0, 1.0, 9.0, 200),
    ])
    func livenessThresholdIsTheFactorTimesTheQueryInterval(query: Double, intervals: Double, ago: Double, status: Int) {
        #expect(answer("/health", facts(lastPoll: -ago, querySeconds: query, intervals: intervals)).status == status)
    }

    @Test func aStartingWorkerGetsTheLivenessThresholdToPoll() {
        #expect(answer("/health", facts(lastHeartbeat: nil, lastPoll: nil, startedAgo: 5)).status == 200)
        #expect(answer("/health", facts(lastHeartbeat: nil, lastPoll: nil, startedAgo: 59)).status == 200)
        #expect(answer("/health", facts(lastHeartbeat: nil, lastPoll: nil, startedAgo: 61)).status == 503)
        let ready = answer("/health/ready", facts(lastHeartbeat: nil, lastPoll: nil, startedAgo: 5))
        #expect(ready.status == 503, "not ready before it is registered")
        #expect(ready.body["message"] == .string("not registered with the pool yet"))
    }

    @Test func drainingIsHealthyButNotReady() {
        let draining = facts(lastPoll: -60, draining: true)
        #expect(answer("/health", draining).status == 200, "a drain stops polling on purpose")
        let ready = answer("/health/ready", draining)
        #expect(ready.status == 503)
        #expect(ready.body["draining"] == .bool(true))
        #expect(answer("/health/live", draining).body["draining"] == .bool(true))
    }

    @Test func otherPathsAndMethods() {
        #expect(answer("/health?verbose=1", facts()).status == 200)
        #expect(answer("/metrics", facts()).status == 404)
        #expect(answer("/health", facts(), method: "POST").status == 405)
        #expect(answer("/health/ready", facts(), method: "HEAD").status == 200)
    }
}
