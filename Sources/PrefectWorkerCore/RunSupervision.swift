/// How a supervised run's process ended: on its own, or stopped by the worker.
public enum RunOutcome: Equatable, Sendable {
    case exited(ProcessExit)
    case stopped(StopReason, TeardownReport)
}

/// The life of one claimed, prepared run, from "may it start?" to the outcome its final state is
/// decided from, as a state machine (docs/architecture.md, "Run supervision"). Every event (an
/// answer, a timer, the process's exit, a cancel, the worker's stop) goes through `handle`, which
/// returns the actions the driver performs; the driver feeds their results back as events. No I/O
/// and no clock: the driver passes the monotonic time with each event.
///
/// Races are decided here, not by timing in the shell: a cancel or a stop while RUNNING is being
/// proposed or a WAIT is being slept out ends the run before its process exists; an exit during
/// the grace period ends the teardown; the first of timeout, cancel and stop names the reason and
/// later ones change nothing; after the process is gone, what is left of the run is swept.
public struct RunSupervision: Sendable {
    public enum Timer: Equatable, Sendable {
        /// The delay of a WAIT answer to RUNNING.
        case runningWait
        /// The run's `timeout_seconds`, from its start.
        case timeout
        /// The grace between SIGTERM and SIGKILL.
        case grace
    }

    public enum Event: Equatable, Sendable {
        case cancelRequested
        /// The drain is over (or was cut): what runs is stopped, what has not started is handed back.
        case workerStopping
        /// The server's answer to RUNNING (nil: never answered, the run is given up).
        case runningAnswered(OrchestrationResult?)
        /// The server answers (engine runs wait for it before their process is started).
        case serverReachable
        case spawned
        case spawnFailed(String)
        case timerFired(Timer)
        /// The engine's answer to an intent (an engine that had already concluded counts as
        /// acknowledged: it is exiting by itself).
        case intentAnswered(acknowledged: Bool)
        /// The engine's control channel recorded how the attempt ended (a receipt, or an
        /// acknowledged intent); the first one is kept.
        case concluded(AttemptConclusion)
        case processExited(ProcessExit)
        case leftoversSwept(count: Int)
    }

    /// Why a run ends without a process.
    public enum NotStarted: Equatable, Sendable {
        /// Cancelled before its process was started: CANCELLED.
        case cancelled
        /// The worker stops before the process was started: SCHEDULED again, due now.
        case handedBack
        /// RUNNING was rejected or aborted; CANCELLED when the server says the run is CANCELLING.
        case runningRefused(OrchestrationResult.Status, reason: String, cancelling: Bool)
        /// RUNNING was never answered; nothing more can be reported.
        case runningUnanswered
        case spawnFailed(String)
    }

    public enum Action: Equatable, Sendable {
        /// Propose RUNNING (a command that does not report its own states); answer with `runningAnswered`.
        case proposeRunning
        /// Wait until the server answers; answer with `serverReachable`.
        case awaitServer
        /// Start the process; answer with `spawned` or `spawnFailed`.
        case spawn
        case startTimer(Timer, seconds: Double)
        case cancelTimer(Timer)
        /// The teardown starts (for the log and the metrics).
        case beginStop(StopReason)
        /// Offer the engine an intent on its control channel; answer with `intentAnswered`.
        case sendIntent(ControlIntent)
        /// Signal the run's process group and every process of the run.
        case signalGroup(Int32)
        /// Kill what is left of the run after its main process is gone; answer with `leftoversSwept`.
        case sweepLeftovers
        /// The run ends without a process: report why. Nothing follows.
        case finishNotStarted(NotStarted)
        /// The process is gone: decide and report the final state, from the engine's conclusion
        /// when there is one. Nothing follows.
        case finish(RunOutcome, conclusion: AttemptConclusion? = nil)
    }

    /// A teardown in progress.
    struct Teardown: Equatable, Sendable {
        var reason: StopReason
        var startedAt: Duration
        var acknowledged: Bool?
        var remaining: [TeardownPlan.Step] = []
        var lastSignal: Int32 = 0
        var graceRunning = false
    }

    enum Phase: Equatable, Sendable {
        case created
        case proposingRunning
        case waitingToRun
        case awaitingServer
        case spawning
        case running
        case awaitingIntent(Teardown)
        case stopping(Teardown)
        case sweeping(RunOutcome)
        case done
    }

    public let reporting: StateReporting
    public let timeoutSeconds: Double?
    public let grace: Double
    private(set) var phase: Phase = .created
    private var cancelRequested = false
    private var stopping = false
    private var conclusion: AttemptConclusion?

    public init(reporting: StateReporting, timeoutSeconds: Double?, grace: Double) {
        self.reporting = reporting
        self.timeoutSeconds = timeoutSeconds
        self.grace = grace
    }

    /// True once `finish` or `finishNotStarted` was returned.
    public var isDone: Bool { phase == .done }

    /// The first actions, given what is known already (a cancel or a stop that came while the run
    /// was being prepared).
    public mutating func start(cancelRequested: Bool, stopping: Bool) -> [Action] {
        guard phase == .created else { return [] }
        self.cancelRequested = cancelRequested
        self.stopping = stopping
        if let ended = endedBeforeStart() { return ended }
        if reporting == .worker {
            phase = .proposingRunning
            return [.proposeRunning]
        }
        return awaitServerOrSpawn()
    }

    /// For a process a worker before this one started: it is running already (no timeout: its
    /// start time is not known).
    public mutating func adopt() -> [Action] {
        guard phase == .created else { return [] }
        phase = .running
        return []
    }

    public mutating func handle(_ event: Event, at now: Duration) -> [Action] {
        switch event {
        case .cancelRequested:
            guard !cancelRequested else { return [] }
            cancelRequested = true
            return stopBeforeOrAfterStart(reason: .cancelled, at: now)
        case .workerStopping:
            guard !stopping else { return [] }
            stopping = true
            return stopBeforeOrAfterStart(reason: .workerStopped, at: now)
        case .runningAnswered(let answer):
            guard phase == .proposingRunning else { return [] }
            return runningAnswered(answer)
        case .serverReachable:
            guard phase == .awaitingServer else { return [] }
            return endedBeforeStart() ?? spawn()
        case .spawned:
            guard phase == .spawning else { return [] }
            phase = .running
            if let timeoutSeconds { return [.startTimer(.timeout, seconds: timeoutSeconds)] }
            return []
        case .spawnFailed(let message):
            guard phase == .spawning else { return [] }
            phase = .done
            return [.finishNotStarted(.spawnFailed(message))]
        case .timerFired(let timer):
            return timerFired(timer, at: now)
        case .intentAnswered(let acknowledged):
            guard case .awaitingIntent(var teardown) = phase else { return [] }
            teardown.acknowledged = acknowledged
            teardown.remaining = TeardownPlan.steps(
                reporting: reporting, reason: teardown.reason, engineAcknowledged: acknowledged, grace: grace)
            teardown.startedAt = now
            return walk(teardown)
        case .concluded(let concluded):
            if conclusion == nil, phase != .done { conclusion = concluded }
            return []
        case .processExited(let exit):
            return processExited(exit, at: now)
        case .leftoversSwept(let count):
            guard case .sweeping(var outcome) = phase else { return [] }
            if case .stopped(let reason, var report) = outcome {
                report.leftoversKilled += count
                outcome = .stopped(reason, report)
            }
            phase = .done
            return [.finish(outcome, conclusion: conclusion)]
        }
    }

    // MARK: - Before the process exists

    /// A cancel wins over a stop: the run was cancelled, so it is not handed back to run again.
    private mutating func endedBeforeStart() -> [Action]? {
        if cancelRequested {
            phase = .done
            return [.finishNotStarted(.cancelled)]
        }
        if stopping {
            phase = .done
            return [.finishNotStarted(.handedBack)]
        }
        return nil
    }

    private mutating func awaitServerOrSpawn() -> [Action] {
        if reporting == .engine {
            phase = .awaitingServer
            return [.awaitServer]
        }
        return spawn()
    }

    private mutating func spawn() -> [Action] {
        phase = .spawning
        return [.spawn]
    }

    private mutating func runningAnswered(_ answer: OrchestrationResult?) -> [Action] {
        guard let answer else {
            phase = .done
            return [.finishNotStarted(.runningUnanswered)]
        }
        switch answer.status {
        case .accept:
            // A cancel or stop that came while RUNNING was on its way still keeps the process from starting.
            return endedBeforeStart() ?? awaitServerOrSpawn()
        case .wait:
            // A prefetched run is started at its scheduled time.
            phase = .waitingToRun
            return [.startTimer(.runningWait, seconds: max(0.1, answer.details?.delaySeconds ?? 1))]
        case .reject, .abort:
            phase = .done
            return [
                .finishNotStarted(
                    .runningRefused(answer.status, reason: answer.details?.reason ?? "", cancelling: answer.state?.type == .cancelling))
            ]
        }
    }

    // MARK: - Stopping

    private mutating func stopBeforeOrAfterStart(reason: StopReason, at now: Duration) -> [Action] {
        switch phase {
        case .created, .proposingRunning, .spawning, .awaitingIntent, .stopping, .sweeping, .done:
            // Before start: remembered for when the answer comes (a spawn is never interrupted).
            // After a teardown began: its reason stays the first one.
            return []
        case .waitingToRun:
            var actions: [Action] = [.cancelTimer(.runningWait)]
            actions += endedBeforeStart() ?? []
            return actions
        case .awaitingServer:
            return endedBeforeStart() ?? []
        case .running:
            return beginStop(reason, at: now)
        }
    }

    private mutating func beginStop(_ reason: StopReason, at now: Duration) -> [Action] {
        var actions: [Action] = [.beginStop(reason)]
        if case .timedOut = reason {
            // That timer has fired.
        } else if timeoutSeconds != nil {
            actions.append(.cancelTimer(.timeout))
        }
        var teardown = Teardown(reason: reason, startedAt: now)
        if let intent = TeardownPlan.intent(reporting: reporting, reason: reason) {
            phase = .awaitingIntent(teardown)
            return actions + [.sendIntent(intent)]
        }
        teardown.remaining = TeardownPlan.steps(reporting: reporting, reason: reason, engineAcknowledged: nil, grace: grace)
        return actions + walk(teardown)
    }

    /// Takes the plan's steps up to its next wait.
    private mutating func walk(_ teardown: Teardown) -> [Action] {
        var teardown = teardown
        var actions: [Action] = []
        while !teardown.remaining.isEmpty {
            switch teardown.remaining.removeFirst() {
            case .signal(let signal):
                teardown.lastSignal = signal
                actions.append(.signalGroup(signal))
            case .waitForExit(let seconds):
                teardown.graceRunning = true
                phase = .stopping(teardown)
                return actions + [.startTimer(.grace, seconds: seconds)]
            }
        }
        // The plan ends in SIGKILL: from here the exit is only awaited.
        phase = .stopping(teardown)
        return actions
    }

    private mutating func timerFired(_ timer: Timer, at now: Duration) -> [Action] {
        switch (timer, phase) {
        case (.runningWait, .waitingToRun):
            phase = .proposingRunning
            return [.proposeRunning]
        case (.timeout, .running):
            return beginStop(.timedOut(seconds: timeoutSeconds ?? 0), at: now)
        case (.grace, .stopping(var teardown)) where teardown.graceRunning:
            teardown.graceRunning = false
            return walk(teardown)
        default:
            // A timer that fired as it was being cancelled.
            return []
        }
    }

    private mutating func processExited(_ exit: ProcessExit, at now: Duration) -> [Action] {
        var actions: [Action] = []
        let outcome: RunOutcome
        switch phase {
        case .running:
            if timeoutSeconds != nil { actions.append(.cancelTimer(.timeout)) }
            outcome = .exited(exit)
        case .awaitingIntent(let teardown):
            // Gone before any signal: it ended by itself while the intent was on its way.
            outcome = .stopped(teardown.reason, report(teardown, at: now))
        case .stopping(let teardown):
            if teardown.graceRunning { actions.append(.cancelTimer(.grace)) }
            outcome = .stopped(teardown.reason, report(teardown, at: now))
        default:
            return []
        }
        phase = .sweeping(outcome)
        return actions + [.sweepLeftovers]
    }

    private func report(_ teardown: Teardown, at now: Duration) -> TeardownReport {
        TeardownReport(
            finalSignal: teardown.lastSignal, secondsToExit: max(0, (now - teardown.startedAt).inSeconds), grace: grace, engineAcknowledged: teardown.acknowledged)
    }
}
