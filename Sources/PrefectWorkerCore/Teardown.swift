import Foundation

/// Why a running child is being stopped.
public enum StopReason: Equatable, Sendable {
    /// The run moved to CANCELLING (a user, an automation, the API).
    case cancelled
    /// The run exceeded its `timeout_seconds`.
    case timedOut(seconds: Double)
    /// The worker is stopping and the drain deadline passed (or a second SIGTERM/SIGINT came).
    case workerStopped
}

/// How a child's process group is stopped: declared data, always ending in
/// SIGKILL. A Prefect engine that acknowledged the cancel intent on its control channel gets SIGTERM
/// and the grace period, so it can record CANCELLED and run `on_cancellation` hooks. An engine that
/// has not connected is still starting: it has run no flow code, and SIGTERM would only make it
/// report CRASHED, so it is killed at once. Every other command gets SIGTERM, then the grace.
public enum TeardownPlan {
    public enum Step: Equatable, Sendable {
        case signal(Int32)
        /// Wait up to this many seconds for the child to exit; skip the rest of the plan if it does.
        case waitForExit(seconds: Double)
    }

    public static let sigterm: Int32 = 15
    public static let sigkill: Int32 = 9

    /// `engineAcknowledged` is nil when no intent was sent (not an engine, or a timeout).
    public static func steps(reporting: StateReporting, reason: StopReason, engineAcknowledged: Bool?, grace: Double) -> [Step] {
        if reporting == .engine, reason == .cancelled, engineAcknowledged != true {
            return [.signal(sigkill)]
        }
        return [.signal(sigterm), .waitForExit(seconds: grace), .signal(sigkill)]
    }

    /// Whether to offer the engine the cancel intent first.
    public static func sendsIntent(reporting: StateReporting, reason: StopReason) -> Bool {
        reporting == .engine && reason == .cancelled
    }
}

/// What a teardown did, for the state message.
public struct TeardownReport: Equatable, Sendable {
    /// The strongest signal that was needed (0: none was sent), and when the child was gone after
    /// the first signal.
    public var finalSignal: Int32
    public var secondsToExit: Double
    public var grace: Double
    public var engineAcknowledged: Bool?
    public var leftoversKilled: Int

    public init(finalSignal: Int32, secondsToExit: Double, grace: Double, engineAcknowledged: Bool? = nil, leftoversKilled: Int = 0) {
        self.finalSignal = finalSignal
        self.secondsToExit = secondsToExit
        self.grace = grace
        self.engineAcknowledged = engineAcknowledged
        self.leftoversKilled = leftoversKilled
    }

    /// "process group terminated with SIGTERM after 0.4 s" / "killed with SIGKILL after 30 s grace".
    public var description: String {
        var text: String
        if finalSignal == 0 {
            text = "process group exited by itself after \(Self.seconds(secondsToExit)) s, before it was signalled"
        } else if finalSignal == TeardownPlan.sigkill && grace > 0 && secondsToExit >= grace {
            text = "killed with SIGKILL after \(Self.seconds(grace)) s grace"
        } else {
            text = "process group terminated with \(SignalName.of(finalSignal)) after \(Self.seconds(secondsToExit)) s"
        }
        if engineAcknowledged == false { text += " (the engine had not connected its control channel yet)" }
        if leftoversKilled > 0 { text += "; \(leftoversKilled) leftover process(es) of the run killed" }
        return text
    }

    /// Whole seconds from 10 s on and for whole values ("2"), one decimal below ("0.4").
    public static func seconds(_ value: Double) -> String {
        let tenths = (value * 10).rounded() / 10
        if value >= 10 || tenths == tenths.rounded() { return String(Int(value.rounded())) }
        return String(tenths)
    }
}

extension FinalStateDecision {
    /// The state after a stopped child is gone. A cancel ends CANCELLED (unless the engine already
    /// wrote it); a timeout ends CRASHED with "timed out after N s".
    public static func afterStop(reason: StopReason, report: TeardownReport, current: StateType?) -> StateProposal? {
        switch reason {
        case .cancelled:
            if current == .cancelled { return nil }
            return StateProposal(type: .cancelled, message: "Cancelled by user; \(report.description).", force: true)
        case .timedOut(let seconds):
            return StateProposal(
                type: .crashed, message: "Timed out after \(TeardownReport.seconds(seconds)) s; \(report.description).", force: true)
        case .workerStopped:
            if let current, current.isTerminal { return nil }
            return StateProposal(
                type: .crashed, message: "Worker stopped before the flow run finished; \(report.description).", force: true)
        }
    }

    /// A claimed run the worker will not start because it is stopping: handed back, due now, for
    /// another worker (or this one after a restart) to claim.
    public static func rescheduledByStoppingWorker(now: Date) -> StateProposal {
        var proposal = StateProposal(
            type: .scheduled, message: "Worker stopped before the flow run's process was started; rescheduled.", force: true)
        proposal.scheduledTime = now
        return proposal
    }

    /// A run cancelled before its process was started.
    public static let cancelledBeforeStart = StateProposal(
        type: .cancelled, message: "Cancelled by user before the flow run's process was started.", force: true)
}
