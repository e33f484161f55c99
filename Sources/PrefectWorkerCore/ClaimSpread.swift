/// How a worker keeps out of the way of the other workers of its pool (docs/architecture.md,
/// "Requests per run"). Every worker's poll returns the pool's oldest scheduled runs, so workers that
/// poll at the same moment propose PENDING for the same runs, and all but one are refused: on a
/// busy pool of 10 workers, three refused claims per run, each a full orchestration on the server.
/// Once this worker has lost a claim lately (`contended`), its poll asks for a window of
/// `windowPerSlot` runs per free slot, at least `minWindow`, and it proposes them in a random
/// order, so workers polling together mostly pick different runs (with 10 workers on a backlog,
/// a window of 4 for one free slot still left 1.2 refused claims per run). A worker that loses no claim (alone on its pool, or
/// polling at other moments) proposes in the server's order (work queue priority, then
/// scheduled time), exactly as Prefect's worker does.
public enum ClaimSpread {
    /// How long a lost claim counts as contention.
    public static let memorySeconds = 60.0
    public static let windowPerSlot = 4
    public static let minWindow = 20
    /// The most runs one poll asks for beyond the free slots and the paused runs.
    public static let maxExtra = 100

    /// How many runs a poll asks for beyond the free slots.
    public static func extra(freeSlots: Int, contended: Bool) -> Int {
        guard contended, freeSlots > 0 else { return 0 }
        return min(maxExtra, max(minWindow, freeSlots * windowPerSlot) - freeSlots)
    }

    /// The order in which the due runs are proposed.
    public static func order<T>(_ due: [T], contended: Bool, using generator: inout some RandomNumberGenerator) -> [T] {
        contended ? due.shuffled(using: &generator) : due
    }
}
