"""on_crashed hooks of an engine run the worker reported CRASHED run in a helper process, once;
an engine that reported CRASHED itself ran them already; a hanging hook is cut at its deadline
and holds no run's slot."""
import os
import signal

from prefect_harness import journal_messages, read_pid, run_processes, wait_for


def crashy(api, pool, flow_name: str, marker, started, **job_variables) -> str:
    deployment = api.create_deployment(pool, flow_name=flow_name, entrypoint=f"demo_flow.py:{flow_name}", job_variables={
        "env": {"HOOK_MARKER": str(marker), "STARTED_MARKER": str(started)}, **job_variables})
    return api.create_run(deployment)


def test_hooks_run_once_after_a_sigkill_and_not_again_when_the_engine_crashed_itself(api, pool, start_worker, tmp_path):
    killed_marker, killed_started = tmp_path / "killed.hooks", tmp_path / "killed.started"
    timed_marker, timed_started = tmp_path / "timed.hooks", tmp_path / "timed.started"
    killed = crashy(api, pool, "crashy_with_hook", killed_marker, killed_started)
    # A timeout sends SIGTERM without an intent: the engine reports CRASHED and runs the hook itself.
    timed = crashy(api, pool, "crashy_with_hook", timed_marker, timed_started, timeout_seconds=20)
    worker = start_worker(pool, "--limit", "2", "--log-format", "journal")
    os.kill(read_pid(killed_started, timeout=90), signal.SIGKILL)

    assert api.wait_terminal(killed)["state_type"] == "CRASHED"
    wait_for(lambda: killed_marker.exists(), 90, "the hook of the killed run")
    assert api.wait_terminal(timed, timeout=120)["state_type"] == "CRASHED"
    assert worker.stop(timeout=120) == 0  # a stopping worker waits for the hooks it runs
    assert killed_marker.read_text() == f"on_crashed ran for {killed} in state Crashed\n"
    assert timed_marker.read_text() == f"on_crashed ran for {timed} in state Crashed\n", "once, by the engine"
    # The engine's receipt of its CRASHED does not hide why: the worker wrote its reason over it.
    assert api.run(timed)["state"]["message"].startswith("Timed out after 20 s"), api.run(timed)["state"]
    # The helper's output is the run's output, in the journal under its id.
    killed_lines = journal_messages(PREFECT_FLOW_RUN_ID=killed)
    assert "running the flow's on_crashed hooks, if it has any" in killed_lines
    assert "Hook '_write_crash_marker' finished running successfully" in killed_lines
    assert "running the flow's on_crashed hooks, if it has any" not in journal_messages(PREFECT_FLOW_RUN_ID=timed)


def test_a_hanging_hook_is_cut_at_its_deadline_while_other_runs_go_on(api, pool, start_worker, tmp_path):
    marker, started = tmp_path / "hang.hooks", tmp_path / "hang.started"
    hanging = crashy(api, pool, "crashy_with_hanging_hook", marker, started)
    worker = start_worker(pool, "--limit", "1", "--crashed-hooks-seconds", "15")
    os.kill(read_pid(started, timeout=90), signal.SIGKILL)
    assert api.wait_terminal(hanging)["state_type"] == "CRASHED"
    wait_for(lambda: marker.exists() and "hanging hook started" in marker.read_text(), 60, "the hook to hang")

    # The hook holds no slot: at --limit 1 another run completes while it hangs.
    other = api.create_run(api.create_deployment(pool, job_variables={"command": "true"}))
    assert api.wait_terminal(other)["state_type"] == "COMPLETED"
    assert "did not finish within" not in worker.output(), "completed before the hook's deadline"

    wait_for(lambda: "did not finish within 15 s" in worker.output(), 60, "the hook's deadline")
    wait_for(lambda: not run_processes(hanging), 10, "no process of the run or its hook left")
    assert worker.process.poll() is None
