import Foundation

/// Between the signal handler and the worker: a second SIGTERM/SIGINT asks to cut the drain short,
/// and the worker records whether runs had to be cut (the executable's exit code says so).
public final class ShutdownController: @unchecked Sendable {
    private let lock = NSLock()
    private var cutRequested = false
    private var runsCut = 0

    public init() {}

    /// Stop waiting for runs: cancel what is still in flight now.
    public func requestCut() {
        lock.withLock { cutRequested = true }
    }

    public var isCutRequested: Bool { lock.withLock { cutRequested } }

    func recordCut(runs: Int) {
        lock.withLock { runsCut += runs }
    }

    /// How many runs were stopped because the worker stopped before they finished.
    public var cutRuns: Int { lock.withLock { runsCut } }
}
