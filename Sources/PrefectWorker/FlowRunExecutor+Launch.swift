import Foundation
import Logging
import PrefectAPI
import PrefectWorkerCore
import ProcessSupervisor

extension FlowRunExecutor {
    /// Starts the child, records its pid, waits for it and reports the final state when the child
    /// did not (or, for plain commands, always).
    func launch(_ prepared: PreparedRun, logger: Logger) async {
        let run = prepared.run
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

        let spec = ChildProcessSpec(
            arguments: prepared.arguments, environment: prepared.environment, workingDirectory: workspace.path,
            captureOutput: prepared.job.streamOutput)
        let outputLogger = logger
        let child: ChildProcess
        do {
            child = try ChildProcess.spawn(spec) { line in
                outputLogger.log(
                    level: line.stream == .stderr ? .notice : .info, "\(line.text)",
                    metadata: ["stream": "\(line.stream.rawValue)", "pid": "\(line.pid)"])
            }
        } catch {
            logger.error("flow run could not start: \(error)")
            await propose(FinalStateDecision.spawnFailed("\(error)"), for: run, logger: logger)
            return
        }
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

        let exit = await child.waitForExit()
        logger.info("process \(exit)", metadata: ["exit": "\(exit)"])

        let current = await untilAnswered("read the flow run's state", logger: logger) {
            try await api.readFlowRun(id: run.id)
        }
        if let proposal = FinalStateDecision.afterExit(exit: exit, reporting: prepared.reporting, current: current?.currentStateType) {
            await propose(proposal, for: run, logger: logger)
        }
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
                let delay = max(0.1, answer.details?.delaySeconds ?? 1)
                try? await Task.sleep(nanoseconds: UInt64(delay * 1_000_000_000))
            case .reject, .abort:
                if answer.state?.type == .cancelling {
                    await propose(
                        StateProposal(type: .cancelled, message: "Flow run was cancelled before it started.", force: true),
                        for: run, logger: logger)
                }
                logger.notice("not starting flow run: RUNNING was \(answer.status.rawValue): \(answer.details?.reason ?? "")")
                return false
            }
        }
        return false
    }
}
