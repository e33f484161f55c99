/// When the worker reads its work pool again (its job template, and whether it still exists).
///
/// Prefect's worker reads it at every heartbeat. While the event stream is subscribed, a change of
/// the pool announces itself (`prefect.work-pool.updated`, see `EventSubscription`) and the worker
/// reads the pool at once, before it polls; so the heartbeat reads it only every
/// `subscribedSeconds`, in case an event never came. Without the stream, or when the last read
/// failed or is unknown, every heartbeat reads it, like Prefect's worker (README, "Coming from
/// `prefect worker start`").
public enum PoolRefreshCadence {
    public static let subscribedSeconds = 300.0

    /// Whether the heartbeat that just landed is followed by a read of the pool. `secondsSinceRead`
    /// is the time since the last successful read; nil when a read failed since.
    public static func heartbeatReads(streamSubscribed: Bool, secondsSinceRead: Double?) -> Bool {
        guard streamSubscribed, let secondsSinceRead else { return true }
        return secondsSinceRead >= subscribedSeconds
    }
}
