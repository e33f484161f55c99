import Foundation
import PrefectWorkerCore
import Testing

@Suite struct RetryPolicyTests {
    let policy = RetryPolicy(baseDelay: 0.5, maxDelay: 30, jitterFraction: 0.2, maxRetries: 8)

    @Test(arguments: [
        (.status(408), true), (.status(429), true), (.status(500), true), (.status(502), true),
        (.status(503), true), (.status(599), true), (.connection, true),
        (.status(400), false), (.status(401), false), (.status(403), false), (.status(404), false),
        (.status(409), false), (.status(422), false),
    ] as [(RetryPolicy.Failure, Bool)])
    func retryable(_ failure: RetryPolicy.Failure, _ expected: Bool) {
        #expect(RetryPolicy.isRetryable(failure) == expected)
    }

    @Test(arguments: zip(1...8, [0.5, 1, 2, 4, 8, 16, 30, 30] as [Double]))
    func exponentialWithoutJitter(_ retry: Int, _ expected: Double) {
        #expect(policy.delay(beforeRetry: retry, after: .status(503), random: 0.5) == expected)
    }

    @Test(arguments: [0.0, 0.1, 0.25, 0.75, 0.9, 0.999_999])
    func jitterStaysInBounds(_ random: Double) throws {
        for retry in 1...8 {
            let raw = try #require(policy.delay(beforeRetry: retry, after: .connection, random: 0.5))
            let delay = try #require(policy.delay(beforeRetry: retry, after: .connection, random: random))
            #expect(delay >= raw * 0.8 - 1e-9 && delay <= raw * 1.2 + 1e-9, "retry \(retry): \(delay) vs \(raw)")
        }
    }

    @Test func jitterReachesItsExtremes() throws {
        let low = try #require(policy.delay(beforeRetry: 3, after: .connection, random: 0))
        let high = try #require(policy.delay(beforeRetry: 3, after: .connection, random: 1))
        #expect(abs(low - 1.6) < 1e-9)
        #expect(abs(high - 2.4) < 1e-9)
    }

    @Test func retryAfterIsHonoured() {
        #expect(policy.delay(beforeRetry: 1, after: .status(429), retryAfter: 7, random: 0) == 7)
        #expect(policy.delay(beforeRetry: 1, after: .status(503), retryAfter: 0, random: 0.9) == 0)
        #expect(policy.delay(beforeRetry: 1, after: .status(429), retryAfter: 10_000, random: 0.5) == 120)
    }

    @Test func givesUpAfterMaxRetries() {
        #expect(policy.delay(beforeRetry: 8, after: .connection, random: 0.5) != nil)
        #expect(policy.delay(beforeRetry: 9, after: .connection, random: 0.5) == nil)
        #expect(policy.delay(beforeRetry: 9, after: .status(429), retryAfter: 1, random: 0.5) == nil)
    }

    @Test func unlimitedRetriesNeverGiveUp() {
        var forever = policy
        forever.maxRetries = nil
        for retry in [9, 100, 10_000, Int(Int32.max)] {
            #expect(forever.delay(beforeRetry: retry, after: .connection, random: 0.5) == 30)
        }
    }

    @Test func nonRetryableGivesNil() {
        #expect(policy.delay(beforeRetry: 1, after: .status(404), random: 0.5) == nil)
        #expect(policy.delay(beforeRetry: 1, after: .status(400), retryAfter: 5, random: 0.5) == nil)
    }

    @Test func parseRetryAfter() {
        let now = Date(timeIntervalSince1970: 784_111_770)  // Sun, 06 Nov 1994 08:49:30 GMT
        #expect(RetryPolicy.parseRetryAfter("3", now: now) == 3)
        #expect(RetryPolicy.parseRetryAfter(" 2.5 ", now: now) == 2.5)
        #expect(RetryPolicy.parseRetryAfter("-4", now: now) == 0)
        #expect(RetryPolicy.parseRetryAfter("soon", now: now) == nil)
        #expect(RetryPolicy.parseRetryAfter(nil, now: now) == nil)
        #expect(RetryPolicy.parseRetryAfter("Sun, 06 Nov 1994 08:49:37 GMT", now: now) == 7, "an HTTP date, as Prefect's client reads it")
        #expect(RetryPolicy.parseRetryAfter("Sun, 06 Nov 1994 08:49:00 GMT", now: now) == 0, "a date past is now")
        #expect(RetryPolicy.parseRetryAfter("Sun, 06 Nov 1994 08:49:37 CET", now: now) == nil)
    }

    @Test func periodicCallsRetryForeverNeverLongerThanTheirPeriod() throws {
        let policy = RetryPolicy.periodic(every: 2)
        for retry in [1, 5, 50, 10_000] {
            let delay = try #require(policy.delay(beforeRetry: retry, after: .status(503), random: 1))
            #expect(delay <= 2)
        }
        #expect(policy.delay(beforeRetry: 3, after: .status(429), retryAfter: 120, random: 0) == 2)
        #expect(policy.delay(beforeRetry: 1, after: .status(401), random: 0) == nil)
        #expect(policy.delay(beforeRetry: 1, after: .status(404), random: 0) == nil)
        #expect(RetryPolicy.periodic(every: 30).delay(beforeRetry: 1, after: .connection, random: 0.5) == 0.5)
    }

    @Test func prefectsClientSettingsApplyToEveryPolicyButTheWorkersOwnCounts() {
        let client = ClientRetrySettings(maxRetries: 2, extraCodes: [404], jitterFactor: 0)
        #expect(client.defaultPolicy.maxRetries == 2)
        #expect(client.defaultPolicy.delay(beforeRetry: 1, after: .status(404), random: 0.9) == 0.5, "no jitter; 404 retried")
        #expect(client.defaultPolicy.delay(beforeRetry: 3, after: .status(503), random: 0.5) == nil, "2 retries only")
        let periodic = RetryPolicy.periodic(every: 10).applying(client)
        #expect(periodic.maxRetries == nil, "periodic calls still retry forever")
        #expect(periodic.delay(beforeRetry: 50, after: .status(404), random: 0.5) == 10)
        let claim = RetryPolicy(maxRetries: 0).applying(client)
        #expect(claim.delay(beforeRetry: 1, after: .status(503), random: 0.5) == nil, "a claim is still sent once")
        #expect(RetryPolicy().delay(beforeRetry: 1, after: .status(404), random: 0.5) == nil, "404 is final by default")
    }
}

@Suite struct RetryLoopBackoffTests {
    @Test(arguments: [(1, 2.0), (2, 4.0), (3, 8.0), (5, 32.0), (6, 60.0), (40, 60.0)] as [(Int, Double)])
    func eventStreamReconnectDoublesToAMinute(_ failures: Int, _ seconds: Double) {
        #expect(RetryPolicy.eventStreamReconnect.backoff(afterFailures: failures) == seconds)
    }

    @Test func untilAnsweredIsEveryFiveSeconds() {
        #expect([1, 2, 10, 1000].map { RetryPolicy.untilAnswered.backoff(afterFailures: $0) } == [5, 5, 5, 5])
    }

    @Test func serverWaitAndClaimReadBackAreBounded() {
        #expect((1...8).map { RetryPolicy.serverBeforeEngineStart.backoff(afterFailures: $0) } == [1, 2, 4, 8, 10, 10, 10, 10])
        #expect((1...6).map { RetryPolicy.claimReadBack.backoff(afterFailures: $0) } == [0.5, 1, 2, 4, 8, 10])
        #expect(RetryPolicy.runLogFlush.backoff(afterFailures: 1) == 2)
    }

    @Test func jitterStaysWithinTheFractionAndUnderTheCap() {
        let policy = RetryPolicy(baseDelay: 10, maxDelay: 30, jitterFraction: 0.2)
        #expect(policy.backoff(afterFailures: 1, random: 0) == 8)
        #expect(policy.backoff(afterFailures: 1, random: 0.999_999) < 12.000_1)
        #expect(policy.backoff(afterFailures: 5, random: 0.999_999) == 30)
    }
}
