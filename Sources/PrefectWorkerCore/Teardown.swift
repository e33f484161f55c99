import FoundationEssentials

/// Why a running child is being stopped.
public enum StopReason: Equatable, Sendable {
    /// The run moved to CANCELLING (a user, an automation, the API).
    case cancelled
    /// The run exceeded its `timeout_seconds`.
    case timedOut(seconds: Double)
    /// The worker is stopping and the drain deadline passed (or a second SIGTERM/SIGINT came).
    case workerStopped
}

/// How a child's process group is stopped: declared data, always ending in SIGKILL. A Prefect
/// engine is first offered an intent on its control channel: `cancel` for a cancel (it records
/// CANCELLED and runs `on_cancellation` hooks), `reschedule` when the worker's drain is cut (it
/// exits without a state, and the worker puts the run back to SCHEDULED for another worker, as
/// Prefect's `flow-run execute` supervisor does on SIGTERM). An engine that acknowledged gets
/// SIGTERM and the grace period. One that did not has either not connected yet (it is still
/// starting and has run no flow code) or cannot take the intent: SIGTERM would only make it report
/// CRASHED, so it is killed at once. Every other command gets SIGTERM, then the grace.
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
        if intent(reporting: reporting, reason: reason) != nil, engineAcknowledged != true {
            return [.signal(sigkill)]
        }
        return [.signal(sigterm), .waitForExit(seconds: grace), .signal(sigkill)]
    }

    /// The intent offered to the engine first, if any (a timeout offers none: the engine reports
    /// CRASHED itself on SIGTERM).
    public static func intent(reporting: StateReporting, reason: StopReason) -> ControlIntent? {
        guard reporting == .engine else { return nil }
        switch reason {
        case .cancelled: return .cancel
        case .workerStopped: return .reschedule
        case .timedOut: return nil
        }
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
        if engineAcknowledged == false { text += " (the engine did not acknowledge on its control channel)" }
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
    /// wrote it); a timeout ends CRASHED with "timed out after N s"; a cut drain puts an engine run
    /// back to SCHEDULED ("AwaitingRetry", due now) and ends a command CRASHED.
    public static func afterStop(
        reason: StopReason, report: TeardownReport, current: StateType?, reporting: StateReporting = .worker
    ) -> StateProposal? {
        switch reason {
        case .cancelled:
            if current == .cancelled { return nil }
            return StateProposal(type: .cancelled, message: "Cancelled by user; \(report.description).", force: true)
        case .timedOut(let seconds):
            return StateProposal(
                type: .crashed, message: "Timed out after \(TeardownReport.seconds(seconds)) s; \(report.description).", force: true)
        case .workerStopped:
            if let current, current.isTerminal { return nil }
            if reporting == .engine {
                return rescheduledAfterCut(report: report)
            }
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

    /// An engine run stopped because the worker's drain was cut: back to SCHEDULED "AwaitingRetry",
    /// due now (the server sets the time), for another worker, as Prefect's supervisor reschedules
    /// on SIGTERM. Not forced: a run that reached a final state meanwhile keeps it.
    public static func rescheduledAfterCut(report: TeardownReport) -> StateProposal {
        StateProposal(
            type: .scheduled, name: "AwaitingRetry",
            message: "Worker stopped before the flow run finished; rescheduled for another worker (\(report.description)).")
    }

    /// A run cancelled before its process was started.
    public static let cancelledBeforeStart = StateProposal(
        type: .cancelled, message: "Cancelled by user before the flow run's process was started.", force: true)
}
