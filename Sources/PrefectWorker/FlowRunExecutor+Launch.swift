import Foundation
import Logging
import PrefectAPI
import PrefectWorkerCore
import ProcessSupervisor

extension FlowRunExecutor {
    /// Starts the child, records its pid, supervises it (exit, cancel, timeout) and reports the
    /// final state when the child did not (or, for plain commands, always).
    func launch(
        _ prepared: PreparedRun, claimedAt: ContinuousClock.Instant, events: AsyncStream<RunEvent>, postEvent: AsyncStream<RunEvent>.Continuation,
        logger: Logger
    ) async {
        let run = prepared.run
        if await cancelledBeforeStart(run, logger: logger) { return }
        if prepared.reporting == .worker {
            guard await startRunning(run, logger: logger) else { return }
        }
        let workspace: RunWorkspace
        do {
            workspace = try RunWorkspace.make(workingDir: prepared.job.workingDir)
        } catch {
            await propose(FinalStateDecision.spawnFailed("\(error)"), for: run, logger: logger)
            return
        }
        defer { workspace.remove() }

        var environment = prepared.environment
        var profile: RunProfileFile?
        if let settings = prepared.profileSettings {
            do {
                let written = try RunProfileFile.write(settings: settings, environment: configuration.environment)
                // The run's own job variables still win.
                for (name, value) in RunProfile.environment(path: written.path) where !prepared.job.env.keys.contains(name) {
                    environment[name] = value
                }
                profile = written
            } catch {
                await propose(FinalStateDecision.spawnFailed("\(error)"), for: run, logger: logger)
                return
            }
        }
        defer { profile?.remove() }
        if prepared.reporting == .engine {
            environment.merge(controlChannel.register(flowRunId: run.id)) { _, control in control }
        }
        defer { controlChannel.unregister(flowRunId: run.id) }

        if prepared.reporting == .engine {
            guard await serverReachableBeforeStart(run, logger: logger) else { return }
        }
        if await cancelledBeforeStart(run, logger: logger) { return }
        let spec = ChildProcessSpec(
            arguments: prepared.arguments, environment: environment, workingDirectory: workspace.path,
            captureOutput: prepared.job.streamOutput)
        let output = prepared.job.streamOutput ? outputQueue(for: prepared, logger: logger) : nil
        let child: ChildProcess
        do {
            child = try ChildProcess.spawn(spec) { line in output?.offer(line) }
        } catch {
            _ = output?.finish(waitingUpTo: 0)
            logger.error("flow run could not start: \(error)")
            await propose(FinalStateDecision.spawnFailed("\(error)"), for: run, logger: logger)
            return
        }
        metrics.runStarted(claimToSpawn: ContinuousClock.now - claimedAt)
        ledger?.record(
            ledgerEntry(for: run, phase: .running, pid: child.pid, reporting: prepared.reporting, profileDirectory: profile?.directory))
        var logger = logger
        logger[metadataKey: "pid"] = "\(child.pid)"
        logger.info(
            "started process",
            metadata: ["command": "\(prepared.arguments.joined(separator: " "))", "cwd": "\(workspace.path)",
                       "state_reporting": "\(prepared.reporting.rawValue)"])
        do {
            try await api.setInfrastructurePid(flowRunId: run.id, pid: child.pid)
        } catch {
            logger.warning("could not record infrastructure_pid: \(error)")
        }

        let submitted = self.events.submitted(prepared.eventRun)
        let outcome = await supervise(child, prepared: prepared, events: events, postEvent: postEvent, logger: logger)
        let statusCode: Int32? = if case .exited(let exit) = outcome { exit.statusCode } else { nil }
        self.events.executed(prepared.eventRun, pid: child.pid, statusCode: statusCode, follows: submitted)
        if let output { await finishOutput(output, logger: logger) }
        await reportOutcome(outcome, of: run, reporting: prepared.reporting, logger: logger)
    }

    /// The queue between the child's pipes and the run's output logger (journal, JSON or logfmt,
    /// and the Prefect API when asked): stdout lines at info, stderr lines at notice.
    private func outputQueue(for prepared: PreparedRun, logger: Logger) -> OutputQueue {
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
    private func finishOutput(_ output: OutputQueue, logger: Logger) async {
        // The wait blocks a thread: keep it off the cooperative pool.
        let counts = await withCheckedContinuation { (continuation: CheckedContinuation<OutputCounts, Never>) in
            DispatchQueue.global().async { continuation.resume(returning: output.finish(waitingUpTo: 10)) }
        }
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
    func reportOutcome(_ outcome: SupervisedOutcome, of run: FlowRun, reporting: StateReporting, logger: Logger) async {
        let current = await untilAnswered("read the flow run's state", logger: logger) {
            try await api.readFlowRun(id: run.id)
        }
        let proposal: StateProposal?
        switch outcome {
        case .exited(let exit) where HandBack.applies(exit: exit, reporting: reporting, current: current?.currentStateType):
            proposal = await handBackProposal(for: run, exit: exit, logger: logger)
        case .exited(let exit):
            proposal = FinalStateDecision.afterExit(exit: exit, reporting: reporting, current: current?.currentStateType)
        case .stopped(let reason, let report):
            proposal = FinalStateDecision.afterStop(reason: reason, report: report, current: current?.currentStateType)
        }
        if let proposal {
            await propose(proposal, for: run, logger: logger)
        } else if let state = current?.currentStateType {
            await registry.noteState(run.id, state)
        }
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
    /// the worker's own last request did not reach the server, it waits before starting one,
    /// asking `/health` (1 s, doubling up to 10 s), and still honours a cancel or a stop
    /// meanwhile. False when the run must not start.
    private func serverReachableBeforeStart(_ run: FlowRun, logger: Logger) async -> Bool {
        var delay = 1.0
        var waited = false
        while !api.reachability.isReachable, !Task.isCancelled {
            if await cancelledBeforeStart(run, logger: logger) { return false }
            if await api.isHealthy() { break }
            if !waited {
                logger.warning("the Prefect server cannot be reached; waiting for it before starting the flow run's process")
                waited = true
            }
            try? await sleepOnEventLoop(seconds: delay)
            delay = min(delay * 2, 10)
        }
        if waited { logger.notice("the Prefect server answers again; starting the flow run's process") }
        return true
    }

    /// For a command that does not report its own states: propose RUNNING, sleeping on WAIT (a
    /// prefetched run is started at its scheduled time). False when the run must not start.
    private func startRunning(_ run: FlowRun, logger: Logger) async -> Bool {
        while !Task.isCancelled {
            guard let answer = await propose(StateProposal(type: .running), for: run, logger: logger) else { return false }
            switch answer.status {
            case .accept:
                return true
            case .wait:
                // Sleep in slices, so a cancel that arrives meanwhile is seen within a second.
                let until = Date().addingTimeInterval(max(0.1, answer.details?.delaySeconds ?? 1))
                while Date() < until {
                    if await cancelledBeforeStart(run, logger: logger) { return false }
                    try? await Task.sleep(nanoseconds: UInt64(min(1, max(0.05, until.timeIntervalSinceNow)) * 1_000_000_000))
                }
            case .reject, .abort:
                if answer.state?.type == .cancelling {
                    await propose(FinalStateDecision.cancelledBeforeStart, for: run, logger: logger)
                }
                logger.notice("not starting flow run: RUNNING was \(answer.status.rawValue): \(answer.details?.reason ?? "")")
                return false
            }
        }
        return false
    }
}
