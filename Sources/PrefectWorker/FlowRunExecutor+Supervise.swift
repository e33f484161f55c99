import Foundation
import Logging
import PrefectWorkerCore
import ProcessSupervisor

/// How a supervised child ended.
enum SupervisedOutcome {
    case exited(ProcessExit)
    case stopped(StopReason, TeardownReport)
}

extension FlowRunExecutor {
    /// Waits for the child's exit, a cancel request or the timeout, whichever comes first; on a
    /// cancel or timeout runs the teardown plan. Leftover processes of the run are killed either way.
    func supervise(
        _ child: any SupervisedProcess, prepared: PreparedRun, events: AsyncStream<RunEvent>,
        postEvent: AsyncStream<RunEvent>.Continuation, logger: Logger
    ) async -> SupervisedOutcome {
        let marker = "PREFECT__FLOW_RUN_ID=\(prepared.run.id)"
        return await withTaskGroup(of: Void.self) { timers in
            timers.addTask { postEvent.yield(.exited(await child.waitForEnd())) }
            if let timeout = prepared.timeoutSeconds {
                timers.addTask {
                    try? await Task.sleep(nanoseconds: UInt64(timeout * 1_000_000_000))
                    if !Task.isCancelled { postEvent.yield(.timedOut) }
                }
            }
            var iterator = events.makeAsyncIterator()
            var outcome: SupervisedOutcome = .exited(.exited(code: -1))
            eventLoop: while let event = await iterator.next() {
                switch event {
                case .exited(let exit):
                    outcome = .exited(exit)
                    break eventLoop
                case .cancelRequested, .timedOut, .workerStopping:
                    let reason = Self.stopReason(for: event, timeout: prepared.timeoutSeconds ?? 0)
                    if case .cancelled = reason { metrics.cancellationHandled() }
                    logger.notice("stopping the flow run's processes: \(Self.describe(reason))")
                    outcome = await stop(child, prepared: prepared, reason: reason, iterator: &iterator, timers: &timers, postEvent: postEvent, logger: logger)
                    break eventLoop
                case .graceExpired:
                    continue
                }
            }
            timers.cancelAll()
            let leftovers = await killLeftovers(marker: marker, logger: logger)
            if case .exited(let exit) = outcome {
                logger.info("process \(exit)", metadata: ["exit": "\(exit)"])
            } else if case .stopped(let reason, var report) = outcome {
                report.leftoversKilled += leftovers
                outcome = .stopped(reason, report)
            }
            return outcome
        }
    }

    static func stopReason(for event: RunEvent, timeout: Double) -> StopReason {
        switch event {
        case .timedOut: return .timedOut(seconds: timeout)
        case .workerStopping: return .workerStopped
        case .cancelRequested, .exited, .graceExpired: return .cancelled
        }
    }

    static func describe(_ reason: StopReason) -> String {
        switch reason {
        case .cancelled: return "cancellation requested"
        case .timedOut(let seconds): return "timed out after \(TeardownReport.seconds(seconds)) s"
        case .workerStopped: return "the worker is stopping before the flow run finished"
        }
    }

    /// Runs the teardown plan against the child's process group and every process of the run.
    private func stop(
        _ child: any SupervisedProcess, prepared: PreparedRun, reason: StopReason,
        iterator: inout AsyncStream<RunEvent>.Iterator, timers: inout TaskGroup<Void>,
        postEvent: AsyncStream<RunEvent>.Continuation, logger: Logger
    ) async -> SupervisedOutcome {
        let marker = "PREFECT__FLOW_RUN_ID=\(prepared.run.id)"
        var acknowledged: Bool?
        if TeardownPlan.sendsIntent(reporting: prepared.reporting, reason: reason) {
            acknowledged = await controlChannel.sendCancelIntent(flowRunId: prepared.run.id)
            logger.info(acknowledged! ? "engine acknowledged the cancel intent" : "engine did not acknowledge the cancel intent")
        }
        let grace = configuration.cancelGraceSeconds
        let started = Date()
        var lastSignal: Int32 = 0
        var exited = false
        plan: for step in TeardownPlan.steps(reporting: prepared.reporting, reason: reason, engineAcknowledged: acknowledged, grace: grace) {
            switch step {
            case .signal(let signal):
                lastSignal = signal
                child.signalGroup(signal)
                let others = ProcessTree.processes(descendingFrom: child.pid, marker: marker)
                ProcessTree.signal(others, signal)
                logger.info("sent \(SignalName.of(signal)) to the flow run's process group", metadata: ["processes": "\(others.count)"])
            case .waitForExit(let seconds):
                timers.addTask {
                    try? await Task.sleep(nanoseconds: UInt64(seconds * 1_000_000_000))
                    if !Task.isCancelled { postEvent.yield(.graceExpired) }
                }
                while let event = await iterator.next() {
                    if case .exited = event { exited = true; break plan }
                    if case .graceExpired = event { break }
                }
            }
        }
        while !exited, let event = await iterator.next() {
            if case .exited = event { exited = true }
        }
        let report = TeardownReport(
            finalSignal: lastSignal, secondsToExit: Date().timeIntervalSince(started), grace: grace,
            engineAcknowledged: acknowledged)
        logger.notice("flow run's processes stopped: \(report.description)")
        return .stopped(reason, report)
    }

    /// Kills what is left of a run after its main process is gone (a daemon it started with
    /// `setsid`, a grandchild that ignored the signals): SIGTERM, a second to go, then SIGKILL.
    private func killLeftovers(marker: String, logger: Logger) async -> Int {
        var leftovers = ProcessTree.processes(descendingFrom: nil, marker: marker)
        guard !leftovers.isEmpty else { return 0 }
        let count = leftovers.count
        logger.notice("killing \(count) leftover process(es) of the flow run", metadata: ["pids": "\(leftovers.sorted())"])
        ProcessTree.signal(leftovers, TeardownPlan.sigterm)
        let deadline = Date().addingTimeInterval(1)
        while !leftovers.isEmpty, Date() < deadline {
            try? await Task.sleep(nanoseconds: 50_000_000)
            leftovers = leftovers.filter(ProcessTree.isAlive)
        }
        if !leftovers.isEmpty { ProcessTree.signal(leftovers, TeardownPlan.sigkill) }
        return count
    }
}
