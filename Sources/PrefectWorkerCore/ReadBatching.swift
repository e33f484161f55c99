/// Which reads go to the server together (docs/architecture.md, "Requests per run"). Runs ask for
/// one record each (a flow run's state after its process exits, a deployment after a claim); one
/// filter request answers many of them. A read asked while no request is out goes at once, alone:
/// an idle worker waits no longer than before. Reads asked while `maxInFlight` requests are out
/// wait for the first of them to come back, and then go together, up to `maxBatch` ids in one
/// request. So the busier the server (the longer its answers take), the more runs share a
/// request. A request out for `patience` seconds no longer holds the others back: one hanging
/// until its timeout must not stall every run's read behind it (`wakeAt` says when to look again).
///
/// A read is never answered by a request sent before it was asked: an id already in flight is
/// asked again in the next request, so a state read after an exit is read after the exit.
/// Pure: the caller passes the time (seconds on a monotonic clock).
public struct ReadBatching<Key: Hashable & Sendable>: Sendable {
    /// A request to send: its number (for `answered`) and the ids it reads.
    public struct Request: Sendable, Equatable {
        public let number: Int
        public let keys: [Key]
    }

    public let maxBatch: Int
    public let maxInFlight: Int
    public let patience: Double
    /// Asked and not sent yet, in the order asked (each once).
    public private(set) var waiting: [Key] = []
    private var waitingSet: Set<Key> = []
    /// The requests out, by number: when each was sent.
    public private(set) var inFlight: [Int: Double] = [:]
    private var sent = 0

    public init(maxBatch: Int = 200, maxInFlight: Int = 2, patience: Double = 2) {
        precondition(maxBatch > 0 && maxInFlight > 0 && patience > 0)
        self.maxBatch = maxBatch
        self.maxInFlight = maxInFlight
        self.patience = patience
    }

    /// A read of `key` is asked; the request to send now, if one goes.
    public mutating func ask(_ key: Key, now: Double) -> Request? {
        if waitingSet.insert(key).inserted { waiting.append(key) }
        return nextRequest(now: now)
    }

    /// Request `number` came back (answered or failed); the request to send next, if one goes.
    public mutating func answered(_ number: Int, now: Double) -> Request? {
        inFlight.removeValue(forKey: number)
        return nextRequest(now: now)
    }

    /// The time passed `wakeAt`: the request to send now, if one goes.
    public mutating func wake(now: Double) -> Request? {
        nextRequest(now: now)
    }

    /// When reads wait behind requests that have not been out for `patience` yet: the moment the
    /// first of those stops holding them back. Nil when nothing waits, or it goes at once.
    public func wakeAt(now: Double) -> Double? {
        guard !waiting.isEmpty else { return nil }
        let holding = inFlight.values.filter { now - $0 < patience }
        guard holding.count >= maxInFlight else { return nil }
        return holding.min().map { $0 + patience }
    }

    private mutating func nextRequest(now: Double) -> Request? {
        guard !waiting.isEmpty, inFlight.values.count(where: { now - $0 < patience }) < maxInFlight else { return nil }
        let batch = Array(waiting.prefix(maxBatch))
        waiting.removeFirst(batch.count)
        waitingSet.subtract(batch)
        sent += 1
        inFlight[sent] = now
        return Request(number: sent, keys: batch)
    }
}
