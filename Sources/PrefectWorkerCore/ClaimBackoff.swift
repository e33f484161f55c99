import FoundationEssentials

/// Which runs this worker leaves alone for a while because their last claim was refused (ABORT,
/// REJECT, WAIT, or taken by another worker). A run the server will never let anyone claim (a
/// deployment concurrency limit of 0, say) stays SCHEDULED and comes back in every poll; without
/// this the worker would propose PENDING for it in a loop. The pause grows with each refusal of
/// the same run (`base`, doubled, up to `cap`), and the memory is bounded: at most `capacity`
/// runs are remembered, a run is forgotten `cap` after its pause ended, and when full the run
/// whose pause ends first makes room. A run waiting for its deployment's concurrency slot (the
/// server answered WAIT, or REJECT back to Scheduled/AwaitingConcurrencySlot) pauses at most
/// `slotCap`, and is proposed again as soon as a run of the same deployment ends on this worker
/// (`slotFreed`): the slot it waits for is free then. Pure: the caller passes the time.
public struct ClaimBackoff: Sendable, Equatable {
    public struct Entry: Sendable, Equatable {
        public var refusals: Int
        public var notBefore: Date
        public var deploymentId: String?
    }

    /// Why a claim was refused, as far as the pause cares.
    public enum Refusal: Sendable, Equatable {
        /// Another worker or a rule has the run (ABORT, REJECT to another state, lost races).
        case other
        /// The run waits for its deployment's concurrency slot; the server gives it back when
        /// the slot frees, so the pause never grows past `slotCap`.
        case waitingForSlot
    }

    public let base: Double
    public let cap: Double
    /// The longest pause of a run waiting for a slot: Prefect's default slot wait
    /// (`PREFECT_SERVER_DEPLOYMENTS_CONCURRENCY_SLOT_WAIT_SECONDS`), so a slot freed by another
    /// worker is taken no later than the server's own schedule would have it.
    public let slotCap: Double
    public let capacity: Int
    public private(set) var entries: [String: Entry] = [:]
    /// When a claim was last refused for another reason than a concurrency slot (`ClaimSpread`).
    public private(set) var lastContention: Date?

    public init(base: Double = 5, cap: Double = 300, slotCap: Double = 30, capacity: Int = 1024) {
        self.base = base
        self.cap = cap
        self.slotCap = slotCap
        self.capacity = max(1, capacity)
    }

    /// The pause after the `refusals`-th refusal in a row: base, 2 base, 4 base, ... up to cap.
    public func pause(afterRefusals refusals: Int) -> Double {
        min(cap, base * Double(1 << min(max(refusals, 1) - 1, 30)))
    }

    /// Records a refused claim of `flowRunId` (of `deploymentId`); `serverDelay` is a WAIT's
    /// `delay_seconds`, which lengthens the pause when it is longer. Returns the pause.
    @discardableResult
    public mutating func refused(
        _ flowRunId: String, deploymentId: String? = nil, now: Date, serverDelay: Double? = nil, refusal: Refusal = .other
    ) -> Double {
        prune(now: now)
        if refusal == .other { lastContention = now }
        let refusals = (entries[flowRunId]?.refusals ?? 0) + 1
        let grown = refusal == .waitingForSlot ? min(slotCap, pause(afterRefusals: refusals)) : pause(afterRefusals: refusals)
        let pause = max(grown, serverDelay ?? 0)
        if entries[flowRunId] == nil, entries.count >= capacity,
            let soonest = entries.min(by: { $0.value.notBefore < $1.value.notBefore })?.key
        {
            entries.removeValue(forKey: soonest)
        }
        entries[flowRunId] = Entry(refusals: refusals, notBefore: now.addingTimeInterval(pause), deploymentId: deploymentId)
        return pause
    }

    /// A run of `deploymentId` ended here, so its concurrency slot is free: the deployment's
    /// paused runs may be proposed at the next poll (their refusal count stays, should the slot
    /// go to another run first).
    public mutating func slotFreed(deploymentId: String, now: Date) {
        for (flowRunId, entry) in entries where entry.deploymentId == deploymentId && entry.notBefore > now {
            entries[flowRunId]?.notBefore = now
        }
    }

    /// The run was claimed (or ended for good): nothing to remember.
    public mutating func forget(_ flowRunId: String) {
        entries.removeValue(forKey: flowRunId)
    }

    /// True while `flowRunId` must not be proposed again.
    public func isPaused(_ flowRunId: String, now: Date) -> Bool {
        guard let entry = entries[flowRunId] else { return false }
        return entry.notBefore > now
    }

    /// How many runs are paused now: a poll asks for that many more, so paused runs (which the
    /// server returns first, being the oldest) cannot crowd out claimable ones.
    public func pausedCount(now: Date) -> Int {
        entries.values.count { $0.notBefore > now }
    }

    /// Whether a claim of this worker was lost lately: it spreads its claims (`ClaimSpread`).
    public func isContended(now: Date) -> Bool {
        guard let lastContention else { return false }
        return now.timeIntervalSince(lastContention) < ClaimSpread.memorySeconds
    }

    /// Forgets runs whose pause ended more than `cap` ago: their refusals no longer count.
    public mutating func prune(now: Date) {
        entries = entries.filter { $0.value.notBefore.addingTimeInterval(cap) > now }
    }
}

extension ClaimBackoff.Refusal {
    /// WAIT, or REJECT back to SCHEDULED (Prefect's deployment concurrency rule names it
    /// AwaitingConcurrencySlot), is a run waiting for a slot; anything else is `.other`.
    public init(answer: OrchestrationResult) {
        switch answer.status {
        case .wait: self = .waitingForSlot
        case .reject where answer.state?.type == .scheduled: self = .waitingForSlot
        default: self = .other
        }
    }
}
