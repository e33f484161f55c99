import FoundationEssentials
import Logging
import PrefectWorkerCore
import ProcessSupervisor

/// The `on_crashed` hooks of an engine run the worker reported CRASHED, run as Prefect's runner
/// runs them when the engine could not (`Runner._run_on_crashed_hooks`): a short helper process
/// with the run's Python and environment loads the flow from its deployment (pull steps included,
/// `load_flow_from_flow_run`) and calls each hook with the CRASHED state. Its output is the run's
/// output (the journal under the run's id); it is stopped at `crashed_hooks_seconds`.
///
/// No hook runs twice: the worker runs them only when its own CRASHED was accepted for a run the
/// engine had left without a final state (killed, OOM, exited without one;
/// `FinalStateDecision.runsCrashedHooks`). An engine that reports CRASHED itself (a timeout's
/// SIGTERM, an error in the engine) runs its hooks in-process. The helper checks that the run is
/// still CRASHED before it runs anything.
struct CrashedHooks: Sendable {
    let prepared: PreparedRun
    let executor: FlowRunExecutor
    let logger: Logger

    func run() async {
        let seconds = executor.configuration.crashedHooksSeconds
        guard seconds > 0, prepared.run.deploymentId != nil else { return }
        var logger = self.logger
        logger[metadataKey: "hooks"] = "on_crashed"
        let workspace: RunWorkspace
        do {
            workspace = try RunWorkspace.make(workingDir: nil)
        } catch {
            logger.warning("could not run the flow's on_crashed hooks: \(prepared.redaction.redact("\(error)"))")
            return
        }
        do {
            let (environment, profile) = try executor.environmentWithProfile(for: prepared)
            await runHelper(in: workspace, environment: environment, seconds: seconds, logger: logger)
            profile?.remove()
        } catch {
            logger.warning("could not run the flow's on_crashed hooks: \(prepared.redaction.redact("\(error)"))")
        }
        await workspace.remove()
    }

    private func runHelper(in workspace: RunWorkspace, environment: [String: String], seconds: Double, logger: Logger) async {
        let output = executor.outputQueue(for: prepared, logger: logger)
        let helper: ChildProcess
        do {
            let spec = ChildProcessSpec(
                arguments: [executor.configuration.python, "-c", Self.helperSource], environment: environment,
                workingDirectory: workspace.path)
            helper = try ChildProcess.spawn(spec) { line in output.offer(line) }
        } catch {
            _ = output.finish(waitingUpTo: 0)
            logger.warning("could not start the helper that runs the flow's on_crashed hooks: \(prepared.redaction.redact("\(error)"))")
            return
        }
        logger.info("running the flow's on_crashed hooks, if it has any", metadata: ["pid": "\(helper.pid)"])
        let clock = executor.clock
        let exit = await withTaskGroup(of: ProcessExit?.self) { group in
            group.addTask { await helper.waitForEnd(clock: clock) }
            group.addTask {
                try? await clock.sleep(seconds: seconds)
                return nil
            }
            let first = await group.next() ?? nil
            if first == nil {
                // The deadline came first: the helper is killed, so the wait for it ends too.
                logger.warning(
                    "the flow's on_crashed hooks did not finish within \(TeardownReport.seconds(seconds)) s (crashed_hooks_seconds); stopping them")
                await executor.signalRun(helper, run: prepared.run, TeardownPlan.sigkill, logger: logger)
            }
            group.cancelAll()
            return first
        }
        if let exit {
            if exit.isSuccess {
                logger.info("on_crashed hooks done (\(exit))")
            } else {
                logger.warning("an on_crashed hook of the flow failed, or the flow could not be loaded (\(exit)); see its output")
            }
        }
        await executor.finishOutput(output, logger: logger)
    }

    /// Loads the flow as Prefect's runner does and runs its `on_crashed` hooks with the run's
    /// CRASHED state, each in turn; a failing hook is printed with its traceback and the rest
    /// still run. Exit 0: nothing failed.
    static let helperSource = #"""
import asyncio, os, sys, tempfile, traceback

async def main():
    from prefect.client.orchestration import get_client
    from prefect.flows import load_flow_from_flow_run

    async with get_client() as client:
        flow_run = await client.read_flow_run(os.environ["PREFECT__FLOW_RUN_ID"])
        state = flow_run.state
        if state is None or not state.is_crashed():
            print("the flow run is no longer Crashed; no on_crashed hook runs")
            return 0
        with tempfile.TemporaryDirectory(prefix="prefect-worker-hooks-") as storage:
            flow = await load_flow_from_flow_run(flow_run, storage_base_path=storage)
            hooks = flow.on_crashed_hooks or []
            if not hooks:
                print("the flow has no on_crashed hooks")
                return 0
            failed = 0
            for hook in hooks:
                name = getattr(hook, "__name__", repr(hook))
                print(f"Running hook {name!r} in response to entering state {state.name!r}", flush=True)
                try:
                    result = hook(flow=flow, flow_run=flow_run, state=state)
                    if asyncio.iscoroutine(result):
                        await result
                except Exception:
                    failed += 1
                    print(f"An error was encountered while running hook {name!r}", file=sys.stderr, flush=True)
                    traceback.print_exc()
                else:
                    print(f"Hook {name!r} finished running successfully", flush=True)
            return 1 if failed else 0

sys.exit(asyncio.run(main()))
"""#
}
