import PrefectWorkerCore
import Testing

@Suite struct PoolRefreshCadenceTests {
    @Test(arguments: [
        // (subscribed, seconds since the last read, the heartbeat reads the pool)
        (false, 1.0 as Double?, true),  // no stream: every heartbeat, like Prefect's worker
        (false, nil, true),
        (true, 30, false),  // subscribed: events say when it changed
        (true, 299.9, false),
        (true, 300, true),  // the safety net, in case an event never came
        (true, 4000, true),
        (true, nil, true),  // a read failed since, or an event's read has not landed
    ])
    func theHeartbeatReadsThePool(subscribed: Bool, sinceRead: Double?, reads: Bool) {
        #expect(PoolRefreshCadence.heartbeatReads(streamSubscribed: subscribed, secondsSinceRead: sinceRead) == reads)
    }
}
