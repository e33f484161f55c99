import FoundationEssentials
import Logging
import PrefectAPI
import PrefectWorkerCore
import ProcessSupervisor

extension FlowRunExecutor {
    /// Supervises the prepared run through `RunDriver`: starts its process when it may start,
    /// watches it (exit, cancel, timeout, stop) and reports the final state. Returns the run's
    /// `on_crashed` hooks to run when the worker reported an engine run CRASHED.
    func launch(
        _ prepared: PreparedRun, claimedAt: ContinuousClock.Instant, events: AsyncStream<RunSupervision.Event>,
        postEvent: AsyncStream<RunSupervision.Event>.Continuation, logger: Logger
    ) async -> CrashedHooks? {
        var driver = RunDriver(executor: self, prepared: prepared, postEvent: postEvent, logger: logger, claimedAt: claimedAt)
        await driver.run(events: events)
        return driver.reportedCrashed ? CrashedHooks(prepared: prepared, executor: self, logger: logger) : nil
    }

    /// The run's environment, with its private Prefect profile file written when it gets one
    /// (the caller removes the file when its process is gone).
    func environmentWithProfile(for prepared: PreparedRun) throws -> ([String: String], RunProfileFile?) {
        var environment = prepared.environment
        guard let settings = prepared.profileSettings else { return (environment, nil) }
        let written = try RunProfileFile.write(settings: settings, environment: configuration.environment)
        // The run's own job variables still win.
        for (name, value) in RunProfile.environment(path: written.path) where !prepared.job.env.keys.contains(name) {
            environment[name] = value
        }
        return (environment, written)
    }

    /// Reports a run that ends without a process, as the supervision decided.
    func endWithoutProcess(_ run: FlowRun, _ why: RunSupervision.NotStarted, logger: Logger) async {
        switch why {
        case .cancelled:
            metrics.cancellationHandled()
            logger.notice("flow run cancelled before its process was started; not starting it")
            await propose(FinalStateDecision.cancelledBeforeStart, for: run, logger: logger)
        case .handedBack:
            logger.notice("worker stopping; handing the flow run back before its process was started")
            await propose(FinalStateDecision.rescheduledByStoppingWorker(now: Date()), for: run, logger: logger)
        case .runningRefused(let status, let reason, let cancelling):
            if cancelling { await propose(FinalStateDecision.cancelledBeforeStart, for: run, logger: logger) }
            logger.notice("not starting flow run: RUNNING was \(status.rawValue): \(reason)")
        case .runningUnanswered:
            break
        case .spawnFailed(let message):
            await propose(FinalStateDecision.spawnFailed(message), for: run, logger: logger)
        }
    }

    /// The queue between the child's pipes and the run's output logger (journal, JSON or logfmt,
    /// and the Prefect API when asked): stdout lines at info, stderr lines at notice.
    func outputQueue(for prepared: PreparedRun, logger: Logger) -> OutputQueue {
        let outputLogger = logs.outputLogger(like: logger, toAPI: prepared.outputToAPI)
        return OutputQueue(budget: configuration.outputBudget) { [metrics] event in
            switch event {
            case .line(let line):
                metrics.outputLineWritten()
                var metadata: Logger.Metadata = ["stream": "\(line.stream.rawValue)", "pid": "\(line.pid)"]
                if line.isPartial { metadata["line_partial"] = "true" }
                outputLogger.log(level: line.stream == .stderr ? .notice : .info, "\(line.text)", metadata: metadata)
            case .dropped(let counts):
                logger.warning("\(counts.dropDescription)", metadata: ["output_dropped": "\(counts.dropped)"])
            }
        }
    }

    /// Waits (briefly) for the run's last output lines to be written, and says what was cut.
    func finishOutput(_ output: OutputQueue, logger: Logger) async {
        let counts = await output.finish(within: 10, clock: clock)
        metrics.outputLinesDropped(counts.dropped)
        if counts.dropped > 0 {
            logger.warning(
                "output of the flow run: \(counts.written) line(s) written, \(counts.dropDescription)",
                metadata: ["output_written": "\(counts.written)", "output_dropped": "\(counts.dropped)"])
        } else {
            logger.debug("output of the flow run: \(counts.written) line(s) written")
        }
    }

    /// Reads the run's state now and proposes the final state the core decides, if any.
    /// Returns true when the worker's own CRASHED was accepted for an engine run (its engine
    /// could not report it, so it ran no `on_crashed` hook).
    @discardableResult
    func reportOutcome(
        _ outcome: RunOutcome, conclusion: AttemptConclusion? = nil, of run: FlowRun, reporting: StateReporting, logger: Logger
    ) async -> Bool {
        if case .settled(let state) = FinalStateDecision.settlement(of: conclusion, outcome: outcome) {
            // The engine's receipt says how the attempt ended: nothing to read or propose.
            logger.debug("the engine reported its outcome on its control channel: \(conclusion.map { "\($0)" } ?? "")")
            if let state { await registry.noteState(run.id, state) }
            return false
        }
        // Read with the other runs that ended meanwhile (`BatchedReads`).
        let current = await untilAnswered("read the flow run's state", logger: logger) {
            try await reads.flowRuns.read(run.id)
        } ?? nil
        let proposal: StateProposal?
        switch outcome {
        case .exited(let exit) where HandBack.applies(exit: exit, reporting: reporting, current: current?.currentStateType):
            proposal = await handBackProposal(for: run, exit: exit, logger: logger)
        case .exited(let exit):
            proposal = FinalStateDecision.afterExit(exit: exit, reporting: reporting, current: current?.currentStateType)
        case .stopped(let reason, let report):
            proposal = FinalStateDecision.afterStop(reason: reason, report: report, current: current?.currentStateType, reporting: reporting)
        }
        if let proposal {
            let answer = await propose(proposal, for: run, logger: logger)
            return FinalStateDecision.runsCrashedHooks(
                reporting: reporting, before: current?.currentStateType, proposed: proposal, answer: answer?.status)
        } else if let state = current?.currentStateType {
            await registry.noteState(run.id, state)
        }
        return false
    }

    /// An engine run that ended while still PENDING is handed back, or CRASHED once it was handed
    /// back `HandBack.limit` times (counted in its state history).
    func handBackProposal(for run: FlowRun, exit: ProcessExit, logger: Logger) async -> StateProposal {
        let history = await untilAnswered("read the flow run's history", logger: logger) {
            try await api.stateHistory(flowRunId: run.id)
        } ?? []
        let proposal = HandBack.proposal(exit: exit, previousHandBacks: HandBack.count(in: history), now: Date())
        if proposal.type == .scheduled {
            logger.warning("the flow run's process \(exit) before the flow started; handing the run back to run again")
        }
        return proposal
    }

    /// A Prefect engine started while the server cannot be reached fails on its first call. While
    /// the worker's own last request did not reach the server, this waits before one is started,
    /// asking `/health` (1 s, doubling up to 10 s). False when the wait was cancelled (the run was
    /// cancelled or the worker stops meanwhile: the supervision decides).
    func waitForServer(logger: Logger) async -> Bool {
        var attempts = 0
        var waited = false
        while !api.reachability.isReachable {
            if Task.isCancelled { return false }
            if await api.isHealthy() { break }
            if !waited {
                logger.warning("the Prefect server cannot be reached; waiting for it before starting the flow run's process")
                waited = true
            }
            attempts += 1
            do { try await clock.sleep(seconds: RetryPolicy.serverBeforeEngineStart.backoff(afterFailures: attempts)) } catch { return false }
        }
        if waited { logger.notice("the Prefect server answers again; starting the flow run's process") }
        return true
    }
}
