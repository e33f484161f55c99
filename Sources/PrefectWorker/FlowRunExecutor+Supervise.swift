import FoundationEssentials
import Logging
import PrefectAPI
import PrefectWorkerCore
import ProcessSupervisor

extension FlowRunExecutor {
    static func describe(_ reason: StopReason) -> String {
        switch reason {
        case .cancelled: return "cancellation requested"
        case .timedOut(let seconds): return "timed out after \(TeardownReport.seconds(seconds)) s"
        case .workerStopped: return "the worker is stopping before the flow run finished"
        }
    }

    /// The environment marker every process of the run inherits.
    static func marker(of run: FlowRun) -> String { marker(of: run.id) }
    static func marker(of flowRunId: String) -> String { "PREFECT__FLOW_RUN_ID=\(flowRunId)" }

    /// Signals the run's process group and every other process of the run (one that left the group).
    /// The scans of /proc run on the blocking pool (`BlockingWork`): they read every process's stat.
    func signalRun(_ process: any SupervisedProcess, run: FlowRun, _ signal: Int32, logger: Logger) async {
        process.signalGroup(signal)
        let (pid, marker) = (process.pid, Self.marker(of: run))
        let others = await BlockingWork.run { ProcessTree.processes(descendingFrom: pid, marker: marker) }
        ProcessTree.signal(others, signal)
        logger.info("sent \(SignalName.of(signal)) to the flow run's process group", metadata: ["processes": "\(others.count)"])
    }

    /// Kills what is left of a run after its main process is gone (a daemon it started with
    /// `setsid`, a grandchild that ignored the signals): SIGTERM, a second to go, then SIGKILL.
    /// Returns how many there were.
    func killLeftovers(of run: FlowRun, logger: Logger) async -> Int {
        let marker = Self.marker(of: run)
        var leftovers = await BlockingWork.run { ProcessTree.processes(descendingFrom: nil, marker: marker) }
        guard !leftovers.isEmpty else { return 0 }
        let count = leftovers.count
        logger.notice("killing \(count) leftover process(es) of the flow run", metadata: ["pids": "\(leftovers.sorted())"])
        ProcessTree.signal(leftovers, TeardownPlan.sigterm)
        let deadline = clock.now + .seconds(1)
        while !leftovers.isEmpty, clock.now < deadline {
            // Not our children: no exit to wait for, so they are looked at every 50 ms.
            try? await clock.sleep(seconds: 0.05)
            leftovers = leftovers.filter(ProcessTree.isAlive)
        }
        if !leftovers.isEmpty { ProcessTree.signal(leftovers, TeardownPlan.sigkill) }
        return count
    }
}
