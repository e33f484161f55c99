import FoundationEssentials

/// What the worker asks of the server's event stream (`WS /events/out`, docs/prefect-worker-protocol.md §7): the
/// state events of flow runs in its pool that call for action now, a new run to claim or a run to
/// cancel. Events only wake the worker up; what to do is still decided by a REST read.
public struct EventSubscription: Sendable, Equatable {
    /// A run became due (Scheduled, or AwaitingRetry after a failure).
    public static let scheduledEvents = ["prefect.flow-run.Scheduled", "prefect.flow-run.AwaitingRetry"]
    /// A run is asked to stop.
    public static let cancellingEvent = "prefect.flow-run.Cancelling"
    /// The pool or one of its queues became ready (unpaused) or changed (a concurrency limit):
    /// waiting runs may be taken now, so the worker polls at once as Prefect's worker would within
    /// its poll interval. The queues' events name the pool as a related resource.
    public static let poolChangedEvents = [
        "prefect.work-pool.ready", poolUpdatedEvent, "prefect.work-queue.ready", "prefect.work-queue.updated",
    ]
    /// A field of the pool itself changed (its job template, its concurrency limit): the pool is
    /// read again (`PoolRefreshCadence`).
    public static let poolUpdatedEvent = "prefect.work-pool.updated"

    public var poolId: String
    /// How far back the server replays (it keeps at most its own backfill limit): a reconnect does
    /// not miss a cancel that came while the socket was down.
    public var replaySeconds: Double

    public init(poolId: String, replaySeconds: Double = 60) {
        self.poolId = poolId
        self.replaySeconds = replaySeconds
    }

    /// The first frame after the upgrade: the token is the auth string or the API key (Prefect's
    /// client sends the same), null when the server has no auth.
    public static func authMessage(token: String?) -> String {
        JSONValue.object(["type": .string("auth"), "token": token.map(JSONValue.string) ?? .null]).compactJSONText
    }

    /// The filter frame. The server matches live events against `occurred` too, so `until` lies
    /// far ahead: the subscription lives as long as the connection.
    public func filterMessage(now: Date) -> String {
        let since = RFC3339.format(now.addingTimeInterval(-replaySeconds))
        let until = RFC3339.format(now.addingTimeInterval(10 * 365 * 86_400))
        let names = (Self.scheduledEvents + [Self.cancellingEvent] + Self.poolChangedEvents).map(JSONValue.string)
        let filter: JSONValue = .object([
            "occurred": .object(["since": .string(since), "until": .string(until)]),
            "event": .object(["name": .array(names)]),
            "any_resource": .object(["id": .array([.string("prefect.work-pool.\(poolId)")])]),
        ])
        return JSONValue.object(["type": .string("filter"), "filter": filter]).compactJSONText
    }
}

/// One text frame from the event stream, as far as the worker cares.
public enum EventStreamMessage: Sendable, Equatable {
    case authSuccess
    /// A subscribed event: wake up the poll loop.
    case scheduled(flowRunId: String?)
    /// A subscribed event: wake up the cancellation check.
    case cancelling(flowRunId: String?)
    /// The pool or a queue of it was unpaused or changed: wake up the poll loop.
    case poolChanged(event: String)
    /// Anything else (another event, an unknown message type).
    case other(type: String?)

    /// Whether the pool must be read again before the next poll: its own fields changed.
    public var changesThePool: Bool {
        guard case .poolChanged(let event) = self else { return false }
        return event == EventSubscription.poolUpdatedEvent
    }

    public static func parse(_ text: String) -> EventStreamMessage? {
        guard let message = try? JSONDecoder().decode(JSONValue.self, from: Data(text.utf8)),
            let type = message["type"]?.stringValue
        else { return nil }
        switch type {
        case "auth_success": return .authSuccess
        case "event":
            let event = message["event"]
            let name = event?["event"]?.stringValue ?? ""
            let resource = event?["resource"]?["prefect.resource.id"]?.stringValue
            let flowRunId = resource.flatMap { $0.hasPrefix("prefect.flow-run.") ? String($0.dropFirst(17)) : nil }
            if name == EventSubscription.cancellingEvent { return .cancelling(flowRunId: flowRunId) }
            if EventSubscription.scheduledEvents.contains(name) { return .scheduled(flowRunId: flowRunId) }
            if EventSubscription.poolChangedEvents.contains(name) { return .poolChanged(event: name) }
            return .other(type: type)
        default:
            return .other(type: type)
        }
    }
}
