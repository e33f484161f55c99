import Foundation
import PrefectWorkerCore
import Testing

@Suite struct HealthReportTests {
    let now = Date(timeIntervalSince1970: 1_795_445_716)

    func facts(lastHeartbeat: Double? = -1, lastPoll: Double? = -1, draining: Bool = false, startedAgo: Double = 100) -> HealthReport.Facts {
        HealthReport.Facts(
            health: LoopHealth(
                lastHeartbeat: lastHeartbeat.map { now.addingTimeInterval($0) }, lastPoll: lastPoll.map { now.addingTimeInterval($0) },
                isDraining: draining),
            now: now, heartbeatSeconds: 30, pollSeconds: 2, inFlight: 1, limit: 4, startedAt: now.addingTimeInterval(-startedAgo))
    }

    func answer(_ path: String, _ facts: HealthReport.Facts, method: String = "GET") -> HealthReport.Answer {
        HealthReport.answer(method: method, path: path, facts: facts)
    }

    @Test func healthyLoopsAnswerExactlyWhatPrefectsWorkerAnswers() {
        #expect(answer("/health", facts()) == .init(status: 200, body: .object(["message": .string("OK")])))
        #expect(answer("/health/ready", facts()).status == 200)
        #expect(answer("/health/live", facts()).status == 200)
    }

    @Test func aPollOlderThanTheThresholdIs503() {
        // Threshold: max(3 poll intervals, 10 s) = 10 s here.
        #expect(answer("/health", facts(lastPoll: -9.9)).status == 200)
        let stale = answer("/health", facts(lastPoll: -10.5))
        #expect(stale.status == 503)
        #expect(stale.body["message"] == .string("Worker may be unresponsive at this time"))
        #expect(stale.body["last_poll_s_ago"] == .number(10.5))
        #expect(stale.body["poll_stale_after_s"] == .number(10))
        #expect(answer("/health/ready", facts(lastPoll: -10.5)).status == 503)
        #expect(answer("/health/live", facts(lastPoll: -10.5)).status == 200, "alive is alive")
    }

    @Test func aStartingWorkerGetsOneThresholdToPoll() {
        #expect(answer("/health", facts(lastHeartbeat: nil, lastPoll: nil, startedAgo: 5)).status == 200)
        #expect(answer("/health", facts(lastHeartbeat: nil, lastPoll: nil, startedAgo: 11)).status == 503)
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
