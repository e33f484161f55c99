/// The runs this worker holds, from claim until the child is gone; `limit` is never exceeded.
actor RunSlots {
    let limit: Int?
    private(set) var inFlight: Set<String> = [] {
        didSet { if inFlight.count != oldValue.count { onChange?(inFlight.count) } }
    }
    /// Told the number in flight whenever it changes (the health endpoint shows it).
    private let onChange: (@Sendable (Int) -> Void)?

    init(limit: Int?, onChange: (@Sendable (Int) -> Void)? = nil) {
        self.limit = limit
        self.onChange = onChange
    }

    var count: Int { inFlight.count }

    /// Takes a slot for `flowRunId`; false when it is already held or no slot is free.
    func reserve(_ flowRunId: String) -> Bool {
        if inFlight.contains(flowRunId) { return false }
        if let limit, inFlight.count >= limit { return false }
        inFlight.insert(flowRunId)
        return true
    }

    /// Holds a slot for an adopted run even when that goes over the limit: the process runs already.
    func adopt(_ flowRunId: String) {
        inFlight.insert(flowRunId)
    }

    func release(_ flowRunId: String) {
        inFlight.remove(flowRunId)
    }
}
