import PrefectWorkerCore
import Synchronization

/// The worker's stop, as buildkite-agent's agent counts signals (docs/architecture.md, "The
/// service tree"): the first SIGTERM/SIGINT is a **stop** (claim nothing more, let the runs in
/// flight finish within `drain_seconds`), a second one is a **cut** (stop the runs in flight now).
/// A **cancel** is something else: one run, asked for by the server. The drain waits on the cut
/// instead of polling a flag.
public final class Drain: Sendable {
    /// What a stop signal means, by how many came before it.
    public enum Step: Equatable, Sendable {
        case stop
        case cut
    }

    private struct State {
        var signals = 0
        var cutRequested = false
        var runsCut = 0
    }

    private let state = Mutex(State())
    private let cutSignal: WakeSignal
    private let clock: any WorkerClock

    public init(clock: any WorkerClock) {
        self.clock = clock
        cutSignal = WakeSignal(clock: clock)
    }

    /// Counts a stop signal: the first stops, every later one cuts.
    public func signalReceived() -> Step {
        let signals = state.withLock { state in
            state.signals += 1
            return state.signals
        }
        if signals == 1 { return .stop }
        cut()
        return .cut
    }

    /// Stop waiting for the runs in flight: they are stopped now.
    public func cut() {
        state.withLock { $0.cutRequested = true }
        cutSignal.fire()
    }

    public var isCutRequested: Bool { state.withLock { $0.cutRequested } }

    /// Returns when `seconds` have passed or the drain was cut, whichever is first; true when cut.
    /// A cancelled task returns at once (false).
    func waitForDeadline(seconds: Double) async -> Bool {
        let deadline = clock.now + .seconds(max(0, seconds))
        while !isCutRequested, !Task.isCancelled, clock.now < deadline {
            await cutSignal.wait(upTo: (deadline - clock.now).inSeconds)
        }
        return isCutRequested
    }

    func recordCut(runs: Int) {
        state.withLock { $0.runsCut += runs }
    }

    /// How many runs were stopped because the worker stopped before they finished.
    public var cutRuns: Int { state.withLock { $0.runsCut } }
}
