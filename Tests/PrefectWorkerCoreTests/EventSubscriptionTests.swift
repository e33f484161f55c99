import Foundation
import PrefectWorkerCore
import Testing

@Suite struct EventSubscriptionTests {
    let now = Date(timeIntervalSince1970: 1_700_000_000)

    @Test func authCarriesTheTokenOrNull() {
        #expect(EventSubscription.authMessage(token: nil) == #"{"token":null,"type":"auth"}"#)
        #expect(EventSubscription.authMessage(token: "user:pass") == #"{"token":"user:pass","type":"auth"}"#)
    }

    @Test func filterAsksForThePoolsDueAndCancellingRuns() throws {
        let text = EventSubscription(poolId: "p-1", replaySeconds: 60).filterMessage(now: now)
        let message = try JSONDecoder().decode(JSONValue.self, from: Data(text.utf8))
        #expect(message["type"] == .string("filter"))
        let filter = try #require(message["filter"])
        #expect(filter["any_resource"]?["id"] == .array([.string("prefect.work-pool.p-1")]))
        #expect(filter["event"]?["name"] == .array([
            .string("prefect.flow-run.Scheduled"), .string("prefect.flow-run.AwaitingRetry"), .string("prefect.flow-run.Cancelling"),
            .string("prefect.work-pool.ready"), .string("prefect.work-pool.updated"), .string("prefect.work-queue.ready"),
            .string("prefect.work-queue.updated"),
        ]))
        // Replays the last minute; live events must fall before `until`, so it lies years ahead.
        #expect(filter["occurred"]?["since"] == .string(RFC3339.format(now.addingTimeInterval(-60))))
        let until = try #require(filter["occurred"]?["until"]?.stringValue)
        #expect(until > RFC3339.format(now.addingTimeInterval(5 * 365 * 86_400)))
    }

    @Test func parsesWhatTheWorkerActsOn() {
        #expect(EventStreamMessage.parse(#"{"type":"auth_success"}"#) == .authSuccess)
        let cancelling = #"{"type":"event","event":{"event":"prefect.flow-run.Cancelling","resource":{"prefect.resource.id":"prefect.flow-run.abc"}}}"#
        #expect(EventStreamMessage.parse(cancelling) == .cancelling(flowRunId: "abc"))
        let scheduled = #"{"type":"event","event":{"event":"prefect.flow-run.Scheduled","resource":{"prefect.resource.id":"prefect.flow-run.r2"}}}"#
        #expect(EventStreamMessage.parse(scheduled) == .scheduled(flowRunId: "r2"))
        let retry = #"{"type":"event","event":{"event":"prefect.flow-run.AwaitingRetry","resource":{}}}"#
        #expect(EventStreamMessage.parse(retry) == .scheduled(flowRunId: nil))
    }

    @Test func ignoresTheRest() {
        let running = #"{"type":"event","event":{"event":"prefect.flow-run.Running","resource":{"prefect.resource.id":"prefect.flow-run.x"}}}"#
        #expect(EventStreamMessage.parse(running) == .other(type: "event"))
        #expect(EventStreamMessage.parse(#"{"type":"something-new"}"#) == .other(type: "something-new"))
        let unpaused = #"{"type":"event","event":{"event":"prefect.work-queue.ready","resource":{"prefect.resource.id":"prefect.work-queue.q1"}}}"#
        #expect(EventStreamMessage.parse(unpaused) == .poolChanged(event: "prefect.work-queue.ready"))
        let paused = #"{"type":"event","event":{"event":"prefect.work-pool.paused","resource":{"prefect.resource.id":"prefect.work-pool.p1"}}}"#
        #expect(EventStreamMessage.parse(paused) == .other(type: "event"), "a pause needs no poll")
        #expect(EventStreamMessage.parse("not json") == nil)
        #expect(EventStreamMessage.parse(#"{"no":"type"}"#) == nil)
    }

    @Test(arguments: [
        // (event, whether the pool is read again)
        ("prefect.work-pool.updated", true),  // its template or limit changed
        ("prefect.work-pool.ready", false),  // only polls: the pool's fields are the same
        ("prefect.work-queue.ready", false),
        ("prefect.work-queue.updated", false),
    ])
    func onlyThePoolsOwnUpdateHasThePoolReadAgain(event: String, reads: Bool) throws {
        let text = #"{"type":"event","event":{"event":"\#(event)","resource":{"prefect.resource.id":"prefect.work-pool.p1"}}}"#
        let message = try #require(EventStreamMessage.parse(text))
        #expect(message == .poolChanged(event: event))
        #expect(message.changesThePool == reads)
        #expect(!EventStreamMessage.scheduled(flowRunId: "r1").changesThePool)
    }
}
