/// How many more runs an ephemeral worker may take (`--max-runs`). A run counts once the server
/// accepted its claim; a claim under way holds its place, and a lost one gives it back.
public struct RunQuota: Sendable, Equatable {
    public let maxRuns: Int?
    public private(set) var claimed = 0
    public private(set) var pending = 0

    public init(maxRuns: Int?) {
        self.maxRuns = maxRuns
    }

    /// Runs that may still be taken; nil = no quota.
    public var remaining: Int? { maxRuns.map { max(0, $0 - claimed - pending) } }

    /// Every run of the quota was claimed: stop taking runs.
    public var isSpent: Bool { maxRuns.map { claimed >= $0 } ?? false }

    /// Holds a place for a claim about to be made; false when none is left.
    public mutating func take() -> Bool {
        if remaining == 0 { return false }
        pending += 1
        return true
    }

    /// The claim was decided: won counts, lost gives the place back.
    public mutating func settle(won: Bool) {
        pending = max(0, pending - 1)
        if won { claimed += 1 }
    }
}
