import FoundationEssentials
import Logging
import PrefectAPI
import PrefectWorkerCore
import ProcessSupervisor

/// Drives one run's `RunSupervision` (docs/architecture.md, "Run supervision"): performs each
/// action the machine returns and feeds the results back as events, together with the cancels
/// and stops the registry posts. Every decision is the machine's; this loop only does the I/O.
///
/// Actions that wait (a proposal, the server, the cancel intent, the process's exit) run as child
/// tasks that post their answer; timers are event-loop timers. Everything the loop started is
/// cancelled or awaited before it returns, and the run's workspace, profile file and control
/// token are removed.
struct RunDriver {
    let executor: FlowRunExecutor
    let prepared: PreparedRun
    let postEvent: AsyncStream<RunSupervision.Event>.Continuation
    var logger: Logger
    /// When the run was claimed, for the claim-to-spawn metric; nil for an adopted process.
    let claimedAt: ContinuousClock.Instant?

    private var machine: RunSupervision
    private var process: (any SupervisedProcess)?
    private var workspace: RunWorkspace?
    private var profile: RunProfileFile?
    private var output: OutputQueue?
    private var submittedEvent: String?
    /// The ledger entry written when the process started (its exit is added to it).
    private var runningEntry: LedgerEntry?
    private var timers: [RunSupervision.Timer: ScheduledWake] = [:]
    /// Whether the worker reported the run CRASHED itself (engine runs: its hooks did not run).
    private(set) var reportedCrashed = false
    private let origin: ContinuousClock.Instant

    init(
        executor: FlowRunExecutor, prepared: PreparedRun, postEvent: AsyncStream<RunSupervision.Event>.Continuation, logger: Logger,
        claimedAt: ContinuousClock.Instant?
    ) {
        self.executor = executor
        self.prepared = prepared
        self.postEvent = postEvent
        self.logger = logger
        self.claimedAt = claimedAt
        origin = executor.clock.now
        machine = RunSupervision(
            reporting: prepared.reporting, timeoutSeconds: prepared.timeoutSeconds, grace: executor.configuration.cancelGraceSeconds)
    }

    /// Runs a prepared run from "may it start?" to its final state.
    mutating func run(events: AsyncStream<RunSupervision.Event>) async {
        let registry = executor.registry
        let id = prepared.run.id
        let first = machine.start(cancelRequested: await registry.isCancelRequested(id), stopping: await registry.isStopping)
        await loop(first, events: events)
    }

    /// Supervises a process a worker before this one started, from "running" to its final state.
    mutating func adopt(_ adopted: any SupervisedProcess, events: AsyncStream<RunSupervision.Event>) async {
        process = adopted
        let first = machine.adopt()
        await loop(first, events: events)
    }

    private mutating func loop(_ first: [RunSupervision.Action], events: AsyncStream<RunSupervision.Event>) async {
        await withTaskGroup(of: Void.self) { background in
            if let adopted = process { watchExit(of: adopted, in: &background) }
            var iterator = events.makeAsyncIterator()
            var actions = first
            while true {
                var followUps: [RunSupervision.Event] = []
                for action in actions {
                    if let event = await perform(action, background: &background) { followUps.append(event) }
                }
                if machine.isDone { break }
                let event: RunSupervision.Event
                if !followUps.isEmpty {
                    event = followUps.removeFirst()
                    for later in followUps { postEvent.yield(later) }
                } else if let next = await iterator.next() {
                    event = next
                } else {
                    logger.error("the flow run's events ended before its supervision did")
                    break
                }
                actions = machine.handle(event, at: executor.clock.now - origin)
            }
            for timer in timers.values { timer.cancel() }
            timers = [:]
            background.cancelAll()
        }
        await workspace?.remove()
        profile?.remove()
        executor.controlChannel.unregister(flowRunId: prepared.run.id)
    }

    /// Performs one action; returns the event that answers it when it is answered at once.
    private mutating func perform(_ action: RunSupervision.Action, background: inout TaskGroup<Void>) async -> RunSupervision.Event? {
        let run = prepared.run
        let (executor, logger, postEvent) = (self.executor, self.logger, self.postEvent)
        switch action {
        case .proposeRunning:
            await recordStarting()
            background.addTask {
                postEvent.yield(.runningAnswered(await executor.propose(StateProposal(type: .running), for: run, logger: logger)))
            }
        case .awaitServer:
            background.addTask {
                if await executor.waitForServer(logger: logger) { postEvent.yield(.serverReachable) }
            }
        case .spawn:
            return await spawn(background: &background)
        case .startTimer(let timer, let seconds):
            timers[timer]?.cancel()
            timers[timer] = executor.clock.schedule(after: .seconds(seconds)) { postEvent.yield(.timerFired(timer)) }
        case .cancelTimer(let timer):
            timers.removeValue(forKey: timer)?.cancel()
        case .beginStop(let reason):
            if case .cancelled = reason { executor.metrics.cancellationHandled() }
            logger.notice("stopping the flow run's processes: \(FlowRunExecutor.describe(reason))")
        case .sendIntent(let intent):
            background.addTask {
                let answer = await executor.controlChannel.sendIntent(intent, flowRunId: run.id)
                switch answer {
                case .acknowledged: logger.info("engine acknowledged the \(intent.rawValue) intent")
                case .alreadyConcluded: logger.info("engine had already reported its outcome; not sending the \(intent.rawValue) intent")
                case .notAcknowledged: logger.info("engine did not acknowledge the \(intent.rawValue) intent")
                }
                postEvent.yield(.intentAnswered(acknowledged: answer != .notAcknowledged))
            }
        case .signalGroup(let signal):
            if let process { await executor.signalRun(process, run: run, signal, logger: logger) }
        case .sweepLeftovers:
            return .leftoversSwept(count: await executor.killLeftovers(of: run, logger: logger))
        case .finishNotStarted(let why):
            await executor.endWithoutProcess(run, why, logger: logger)
        case .finish(let outcome, let conclusion):
            await finish(outcome, conclusion: conclusion)
        }
        return nil
    }

    /// Makes the workspace and the profile file, registers the control token and starts the process.
    private mutating func spawn(background: inout TaskGroup<Void>) async -> RunSupervision.Event {
        let run = prepared.run
        do {
            workspace = try RunWorkspace.make(workingDir: prepared.job.workingDir)
            var environment: [String: String]
            (environment, profile) = try executor.environmentWithProfile(for: prepared)
            if prepared.reporting == .engine {
                let postEvent = self.postEvent
                let control = executor.controlChannel.register(flowRunId: run.id) { postEvent.yield(.concluded($0)) }
                environment.merge(control) { _, control in control }
            }
            let spec = ChildProcessSpec(
                arguments: prepared.arguments, environment: environment, workingDirectory: workspace?.path,
                captureOutput: prepared.job.streamOutput)
            let output = prepared.job.streamOutput ? executor.outputQueue(for: prepared, logger: logger) : nil
            // A run the worker reports was recorded `starting` before RUNNING was proposed.
            if prepared.reporting == .engine || profile != nil { await recordStarting() }
            let child: ChildProcess
            do {
                child = try ChildProcess.spawn(spec) { line in output?.offer(line) }
            } catch {
                _ = output?.finish(waitingUpTo: 0)
                throw error
            }
            self.output = output
            process = child
        } catch {
            // The working directory or the command may hold a block's value.
            let message = prepared.redaction.redact("\(error)")
            logger.error("flow run could not start: \(message)")
            return .spawnFailed(message)
        }
        guard let child = process else { return .spawnFailed("no process") }
        watchExit(of: child, in: &background)
        if let claimedAt { executor.metrics.runStarted(claimToSpawn: executor.clock.now - claimedAt) }
        let running = executor.ledgerEntry(
            for: run, phase: .running, pid: child.pid, reporting: prepared.reporting, profileDirectory: profile?.directory)
        await executor.ledger?.record(running)
        runningEntry = running
        logger[metadataKey: "pid"] = "\(child.pid)"
        logger.info(
            "started process",
            metadata: ["command": "\(prepared.redaction.redact(prepared.arguments.joined(separator: " ")))",
                       "cwd": "\(prepared.redaction.redact(workspace?.path ?? ""))",
                       "state_reporting": "\(prepared.reporting.rawValue)"])
        do {
            try await executor.api.setInfrastructurePid(flowRunId: run.id, pid: child.pid)
        } catch {
            logger.warning("could not record infrastructure_pid: \(error)")
        }
        submittedEvent = executor.events.submitted(prepared.eventRun)
        return .spawned
    }

    /// The ledger learns that the run's process may exist before it does: a worker killed between
    /// the spawn and the pid's record finds the process on its restart by the run's marker.
    private func recordStarting() async {
        await executor.ledger?.record(executor.ledgerEntry(
            for: prepared.run, phase: .starting, reporting: prepared.reporting, profileDirectory: profile?.directory))
    }

    private func watchExit(of process: any SupervisedProcess, in background: inout TaskGroup<Void>) {
        let (postEvent, clock) = (self.postEvent, executor.clock)
        background.addTask { postEvent.yield(.processExited(await process.waitForEnd(clock: clock))) }
    }

    /// The process is gone: its last output is written, and the final state is reported.
    private mutating func finish(_ outcome: RunOutcome, conclusion: AttemptConclusion?) async {
        switch outcome {
        case .exited(let exit):
            logger.info("process \(exit)", metadata: ["exit": "\(exit)"])
        case .stopped(_, let report):
            logger.notice("flow run's processes stopped: \(report.description)")
        }
        if let process, claimedAt != nil {
            let statusCode: Int32? = if case .exited(let exit) = outcome { exit.statusCode } else { nil }
            executor.events.executed(prepared.eventRun, pid: process.pid, statusCode: statusCode, follows: submittedEvent)
        }
        if let output { await executor.finishOutput(output, logger: logger) }
        if case .exited(let exit) = outcome, exit != .unknown, var ended = runningEntry {
            // Before the final state: a worker restarted before the server took it reports the
            // same state from the ledger (README, "Restart recovery").
            ended.record(exit)
            ended.updated = Date()
            await executor.ledger?.record(ended)
        }
        reportedCrashed = await executor.reportOutcome(
            outcome, conclusion: conclusion, of: prepared.run, reporting: prepared.reporting, logger: logger)
    }
}
