import Foundation
import Logging
import PrefectAPI
import PrefectWorkerCore
import ProcessSupervisor

/// Restart recovery: what a starting worker does with the runs an earlier worker process of this
/// pool left in the ledger (it was killed, crashed, or the host rebooted).
extension FlowRunExecutor {
    /// Decides every ledger entry; returns the entries whose process still runs, to be adopted.
    func recover(logger: Logger) async -> [LedgerEntry] {
        guard let ledger else { return [] }
        var adopted: [LedgerEntry] = []
        for var entry in ledger.entries() {
            var logger = logger
            logger[metadataKey: "flow_run_id"] = "\(entry.flowRunId)"
            logger[metadataKey: "flow_run_name"] = "\(entry.flowRunName)"
            let writerAlive = entry.workerPid != getpid()
                && ProcessIdentity.isRunning(pid: entry.workerPid, startTime: entry.workerStartTime)
            if !writerAlive, entry.phase == .starting, let pid = ProcessTree.orphanedRunProcess(marker: Self.marker(of: entry.flowRunId)) {
                // The earlier worker started the process and died before it wrote the pid down.
                entry.phase = .running
                entry.pid = pid
                entry.pidStartTime = ProcessIdentity.startTime(of: pid)
            }
            let processAlive = entry.pid.map { ProcessIdentity.isRunning(pid: $0, startTime: entry.pidStartTime) } ?? false
            let current: StateType?
            var currentState: StateSnapshot?
            if writerAlive {
                current = nil
            } else {
                let flowRunId = entry.flowRunId
                guard let known = await untilAnswered("read the flow run's state", logger: logger, { () -> FlowRun? in
                    do {
                        return try await api.readFlowRun(id: flowRunId)
                    } catch let error as PrefectAPIError where error.status == 404 {
                        return nil
                    }
                }) else { continue }
                current = known?.currentStateType
                currentState = known?.state
            }
            let run = FlowRun(id: entry.flowRunId, name: entry.flowRunName, flowId: "")
            let decision = RecoveryDecision.decide(
                entry: entry, writerAlive: writerAlive, processAlive: processAlive, current: current,
                currentState: currentState, now: Date())
            switch decision {
            case .leave:
                continue
            case .forget:
                ledger.remove(entry)
                removeProfile(of: entry)
            case .report(let proposal):
                logger.notice("recovering a flow run left by an earlier worker process: \(proposal.type.rawValue)")
                await propose(proposal, for: run, logger: logger)
                ledger.remove(entry)
                removeProfile(of: entry)
            case .restoreBeforeClaim(let transitionId):
                logger.notice("a claim of an earlier worker process reached the server after the run had left SCHEDULED; restoring its state")
                await restoreStateBefore(claim: transitionId, of: run, logger: logger)
                ledger.remove(entry)
            case .handBack:
                let proposal = await handBackProposal(for: run, exit: .unknown, logger: logger)
                logger.notice("recovering a flow run left by an earlier worker process: \(proposal.type.rawValue)")
                await propose(proposal, for: run, logger: logger)
                ledger.remove(entry)
                removeProfile(of: entry)
            case .adopt:
                logger.notice("adopting a flow run whose process survived the worker's restart", metadata: ["pid": "\(entry.pid ?? 0)"])
                var mine = entry
                mine.workerPid = getpid()
                mine.workerStartTime = Self.workerStartTime
                // Under its own name now (the same name when the pid is the same, as for PID 1).
                if entry.workerPid != mine.workerPid { ledger.remove(entry) }
                ledger.record(mine)
                adopted.append(mine)
            }
        }
        return adopted
    }

    /// The private profile directory of a run the earlier worker process could not clean up.
    private func removeProfile(of entry: LedgerEntry) {
        if let directory = entry.profileDirectory { RunProfileFile(directory: directory).remove() }
    }

    /// Supervises an adopted run's process until it ends, is cancelled or the worker stops, and
    /// reports the final state (the exit status of an adopted process is unknown).
    func superviseAdopted(_ entry: LedgerEntry) async {
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
        ledger?.remove(run.id)
    }
}
