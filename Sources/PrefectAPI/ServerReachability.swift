import Foundation

/// Whether the last request to the Prefect server reached it: answered with anything but a
/// gateway or overload error (502, 503, 504), or failed to connect. The worker does not start a
/// Prefect engine while the server cannot be reached: the engine's first call would fail and the
/// run would have to be handed back. Updated by every request attempt; read without waiting.
public final class ServerReachability: @unchecked Sendable {
    private let lock = NSLock()
    private var reachable = true
    private var since = Date()

    public init() {}

    /// False from a request that could not reach the server until one that did.
    public var isReachable: Bool { lock.withLock { reachable } }

    /// Since when the server has been (un)reachable.
    public var changedAt: Date { lock.withLock { since } }

    /// Records the outcome of one request attempt: its HTTP status, or nil when no answer came.
    public func record(status: Int?) {
        let now = status.map { !Self.unreachableStatuses.contains($0) } ?? false
        lock.withLock {
            if now != reachable {
                reachable = now
                since = Date()
            }
        }
    }

    static let unreachableStatuses: Set<Int> = [502, 503, 504]
}
