import FoundationEssentials
import Logging
import PrefectAPI
import PrefectWorkerCore
import ProcessSupervisor
import ServiceLifecycle

#if canImport(Glibc)
import Glibc
#endif

/// Restart recovery: what a starting worker does with the runs an earlier worker process of this
/// pool left in the ledger (it was killed, crashed, or the host rebooted).
extension FlowRunExecutor {
    /// What a starting worker found in its ledger.
    struct Recovery {
        /// Entries whose process still runs: to be supervised again.
        var adopted: [LedgerEntry] = []
        /// Entries of a dead worker process whose requests may still reach the server (a claim or
        /// a RUNNING sent just before it died, a proposal with an unanswered attempt), and whose
        /// process is gone: decided `lateRequestSeconds` after this start (`recoverLater`).
        var later: [LedgerEntry] = []
    }

    /// How long a request may still reach the server after its sender stopped waiting for it (a
    /// request held by a proxy, or by a busy server): at least 30 s, and the request timeout.
    var lateRequestSeconds: Double { max(30, configuration.api.requestTimeoutSeconds) }

    /// Decides every ledger entry but those `Recovery.later` holds.
    func recover(logger: Logger) async -> Recovery {
        guard let ledger else { return Recovery() }
        var recovery = Recovery()
        for var entry in await ledger.entries() {
            let writerAlive = entry.workerPid != getpid()
                && ProcessIdentity.isRunning(pid: entry.workerPid, startTime: entry.workerStartTime)
            if writerAlive { continue }
            if entry.phase == .starting, let pid = ProcessTree.orphanedRunProcess(marker: Self.marker(of: entry.flowRunId)) {
                // The earlier worker started the process and died before it wrote the pid down.
                entry.phase = .running
                entry.pid = pid
                entry.pidStartTime = ProcessIdentity.startTime(of: pid)
            }
            let processAlive = entry.pid.map { ProcessIdentity.isRunning(pid: $0, startTime: entry.pidStartTime) } ?? false
            if entry.awaitsLateRequests && !processAlive {
                recovery.later.append(entry)
                continue
            }
            if let mine = await recoverOne(entry, logger: logger) { recovery.adopted.append(mine) }
        }
        return recovery
    }

    /// Decides the entries `recover` left for later, once a request their writer sent can no
    /// longer land; a stop before that leaves them in the ledger for the next start.
    func recoverLater(_ entries: [LedgerEntry], startedAt: ContinuousClock.Instant) async {
        guard !entries.isEmpty else { return }
        let wait = lateRequestSeconds - Double((clock.now - startedAt).components.seconds)
        if wait > 0 {
            logger.info(
                "deciding \(entries.count) flow run(s) an earlier worker process was claiming or starting once its requests can no longer land",
                metadata: ["in_s": "\(Int(wait))"])
            let clock = self.clock
            try? await cancelWhenGracefulShutdown { try await clock.sleep(seconds: wait) }
            guard !Task.isCancelled, !Task.isShuttingDownGracefully else { return }
        }
        for entry in entries {
            await undoLateTransitions(of: entry)
            if let mine = await recoverOne(entry, logger: logger) { await superviseAdopted(mine)?.run() }
        }
    }

    /// A proposal of the dead worker process that had an unanswered attempt and reached the server
    /// after the run had moved on (a RUNNING re-opening a finished run) is undone first: the run
    /// gets the state before it back, and is then decided as if the request had never landed.
    private func undoLateTransitions(of entry: LedgerEntry) async {
        guard let stray = entry.strayTransitionIds, !stray.isEmpty else { return }
        var logger = self.logger
        logger[metadataKey: "flow_run_id"] = "\(entry.flowRunId)"
        logger[metadataKey: "flow_run_name"] = "\(entry.flowRunName)"
        let run = FlowRun(id: entry.flowRunId, name: entry.flowRunName, flowId: "")
        await undoLateTransition(of: run, among: Set(stray), logger: logger)
    }

    /// Reads the run: a non-final state set by one of `transitions` (proposals whose attempts went
    /// unanswered and landed after the run had moved on) is undone, the state before it put back.
    func undoLateTransition(of run: FlowRun, among transitions: Set<String>, logger: Logger) async {
        if let current = await readFlowRunIfKnown(run.id, logger: logger) ?? nil,
            let late = ClaimDecision.landedLate(current: current.state, of: transitions)
        {
            await restoreStateBefore(late, of: run, logger: logger)
        }
    }

    /// The run as the server has it, read until answered: nil when the server could not be asked
    /// (the worker is stopping), `.some(nil)` when it no longer knows the run.
    private func readFlowRunIfKnown(_ id: String, logger: Logger) async -> FlowRun?? {
        await untilAnswered("read the flow run's state", logger: logger) { () -> FlowRun? in
            do {
                return try await api.readFlowRun(id: id)
            } catch let error as PrefectAPIError where error.status == 404 {
                return nil
            }
        }
    }

    /// Decides one entry of a dead worker process; returns it, as this process's, when its
    /// process is to be adopted.
    private func recoverOne(_ entry: LedgerEntry, logger: Logger) async -> LedgerEntry? {
        guard let ledger else { return nil }
        var logger = logger
        logger[metadataKey: "flow_run_id"] = "\(entry.flowRunId)"
        logger[metadataKey: "flow_run_name"] = "\(entry.flowRunName)"
        let processAlive = entry.pid.map { ProcessIdentity.isRunning(pid: $0, startTime: entry.pidStartTime) } ?? false
        let flowRunId = entry.flowRunId
        guard let known = await readFlowRunIfKnown(flowRunId, logger: logger) else { return nil }
        let run = FlowRun(id: entry.flowRunId, name: entry.flowRunName, flowId: "")
        let decision = RecoveryDecision.decide(
            entry: entry, writerAlive: false, processAlive: processAlive, current: known?.currentStateType,
            currentState: known?.state, now: Date())
        switch decision {
        case .leave:
            return nil
        case .forget:
            await ledger.remove(entry)
            removeProfile(of: entry)
        case .report(let proposal):
            logger.notice("recovering a flow run left by an earlier worker process: \(proposal.type.rawValue)")
            await propose(proposal, for: run, logger: logger)
            await ledger.remove(entry)
            removeProfile(of: entry)
        case .restoreBeforeClaim(let transitionId):
            logger.notice("a claim of an earlier worker process reached the server after the run had left SCHEDULED; restoring its state")
            await restoreStateBefore(transitionId, of: run, logger: logger)
            await ledger.remove(entry)
        case .handBack:
            let proposal = await handBackProposal(for: run, exit: .unknown, logger: logger)
            logger.notice("recovering a flow run left by an earlier worker process: \(proposal.type.rawValue)")
            await propose(proposal, for: run, logger: logger)
            await ledger.remove(entry)
            removeProfile(of: entry)
        case .adopt:
            logger.notice("adopting a flow run whose process survived the worker's restart", metadata: ["pid": "\(entry.pid ?? 0)"])
            var mine = entry
            mine.workerPid = getpid()
            mine.workerStartTime = Self.workerStartTime
            // Under its own name now (the same name when the pid is the same, as for PID 1).
            if entry.workerPid != mine.workerPid { await ledger.remove(entry) }
            await ledger.record(mine)
            return mine
        }
        _ = strays.take(run.id)
        return nil
    }

    /// The private profile directory of a run the earlier worker process could not clean up.
    private func removeProfile(of entry: LedgerEntry) {
        if let directory = entry.profileDirectory { RunProfileFile(directory: directory).remove() }
    }

    /// Supervises an adopted run's process until it ends, is cancelled or the worker stops, and
    /// reports the final state (the exit status of an adopted process is unknown). Returns the
    /// look at the earlier worker process's unanswered proposals, when it left any, to be run
    /// outside the run's slot.
    func superviseAdopted(_ entry: LedgerEntry) async -> (any AfterSlotWork)? {
        var logger = self.logger
        logger[metadataKey: "flow_run_id"] = "\(entry.flowRunId)"
        logger[metadataKey: "flow_run_name"] = "\(entry.flowRunName)"
        logger[metadataKey: "pid"] = "\(entry.pid ?? 0)"
        let run = FlowRun(id: entry.flowRunId, name: entry.flowRunName, flowId: "")
        let reporting = StateReporting(rawValue: entry.reporting) ?? .engine
        let process = AdoptedProcess(pid: entry.pid ?? 0, startTime: entry.pidStartTime)
        let prepared = PreparedRun(
            run: run, job: JobConfiguration(), reporting: reporting, arguments: [], environment: [:], profileSettings: nil, timeoutSeconds: nil,
            outputToAPI: false, eventRun: WorkerEvents.Run(flowRunId: run.id, flowRunName: run.name, flowId: run.flowId),
            redaction: .none)
        let (events, postEvent) = await registry.register(run.id)
        var driver = RunDriver(executor: self, prepared: prepared, postEvent: postEvent, logger: logger, claimedAt: nil)
        await driver.adopt(process, events: events)
        removeProfile(of: entry)
        await registry.unregister(run.id)
        _ = strays.take(run.id)  // only final states were proposed: a late one leaves the run final
        guard let stray = entry.strayTransitionIds, !stray.isEmpty else {
            await ledger?.remove(run.id)
            return nil
        }
        // A RUNNING the earlier worker process sent may still re-open the run: the entry stays
        // until the look.
        return LateAttemptCheck(run: run, transitions: Set(stray), executor: self, logger: logger)
    }
}
