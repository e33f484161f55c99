import FoundationEssentials
import PrefectWorkerCore

/// The runs this worker holds, from claim until the child is gone; `limit` is never exceeded, nor
/// the `--max-runs` quota.
actor RunSlots {
    let limit: Int?
    private(set) var inFlight: Set<String> = [] {
        didSet {
            guard inFlight.count != oldValue.count else { return }
            onChange?(inFlight.count)
            idleSince = inFlight.isEmpty ? clock.now : nil
        }
    }
    private(set) var quota: RunQuota
    /// Since when nothing is in flight; nil while something is.
    private(set) var idleSince: ContinuousClock.Instant?
    private let clock: any WorkerClock
    /// Told the number in flight whenever it changes (the health endpoint shows it).
    private let onChange: (@Sendable (Int) -> Void)?

    init(limit: Int?, maxRuns: Int? = nil, clock: any WorkerClock, onChange: (@Sendable (Int) -> Void)? = nil) {
        self.clock = clock
        idleSince = clock.now
        self.limit = limit
        self.quota = RunQuota(maxRuns: maxRuns)
        self.onChange = onChange
    }

    var count: Int { inFlight.count }

    /// How many runs a poll may ask for: the free slots, within the quota; nil = no bound.
    var capacity: Int? {
        let free = limit.map { max(0, $0 - inFlight.count) }
        switch (free, quota.remaining) {
        case (nil, nil): return nil
        case (let free?, nil): return free
        case (nil, let remaining?): return remaining
        case (let free?, let remaining?): return min(free, remaining)
        }
    }

    /// Takes a slot (and a place in the quota) for `flowRunId`; false when it is already held or
    /// no slot is free. `settle` must follow once the claim is decided.
    func reserve(_ flowRunId: String) -> Bool {
        if inFlight.contains(flowRunId) { return false }
        if let limit, inFlight.count >= limit { return false }
        guard quota.take() else { return false }
        inFlight.insert(flowRunId)
        return true
    }

    /// The claim of a reserved run was decided.
    func settle(won: Bool) {
        quota.settle(won: won)
    }

    /// Holds a slot for an adopted run even when that goes over the limit: the process runs already.
    func adopt(_ flowRunId: String) {
        inFlight.insert(flowRunId)
    }

    func release(_ flowRunId: String) {
        inFlight.remove(flowRunId)
    }
}
