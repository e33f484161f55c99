import FoundationEssentials
import Synchronization

/// Whether the last request reached the Prefect server: false after one that could not connect or
/// was answered 502, 503 or 504 (a proxy with no server behind it, or a server too busy to answer),
/// true after any other answer. The worker does not start a
/// Prefect engine while the server cannot be reached: the engine's first call would fail and the
/// run would have to be handed back. Updated by every request attempt; read without waiting.
public final class ServerReachability: Sendable {
    private let reachable = Mutex(true)

    public init() {}

    /// False from a request that could not reach the server until one that did.
    public var isReachable: Bool { reachable.withLock { $0 } }

    /// Records the outcome of one request attempt: its HTTP status, or nil when no answer came.
    public func record(status: Int?) {
        let now = status.map { !Self.unreachableStatuses.contains($0) } ?? false
        reachable.withLock { $0 = now }
    }

    static let unreachableStatuses: Set<Int> = [502, 503, 504]
}
