import FoundationEssentials

/// What one poll asks the server for: runs due before `now + prefetch`, at most as many as there
/// are free slots (so `--limit` is pushed to the server instead of claiming and dropping).
public struct PollPlan: Equatable, Sendable {
    public var scheduledBefore: Date
    public var limit: Int?

    /// `freeSlots` nil: no limit. `nil` when there is no free slot: skip the poll.
    public static func make(now: Date, prefetchSeconds: Double, freeSlots: Int?) -> PollPlan? {
        let before = now.addingTimeInterval(prefetchSeconds)
        guard let freeSlots else { return PollPlan(scheduledBefore: before, limit: nil) }
        guard freeSlots > 0 else { return nil }
        return PollPlan(scheduledBefore: before, limit: freeSlots)
    }
}
