"""Cancellation: in every phase, the whole process tree goes, the run ends CANCELLED without a
CRASHED detour, and the state message says what happened."""
import os

from prefect_harness import process_gone, read_pid, run_processes, wait_for


def types(api, run_id):
    return [state["type"] for state in api.history(run_id)]


def assert_no_process_of(run_id, timeout=35):
    """No process carrying the run's PREFECT__FLOW_RUN_ID is left (scan of /proc/*/environ)."""
    wait_for(lambda: not run_processes(run_id), timeout, f"every process of run {run_id} to be gone")


def assert_cancelled_cleanly(api, run_id, timeout=30):
    run = api.wait_terminal(run_id, timeout=timeout)
    history = types(api, run_id)
    assert run["state_type"] == "CANCELLED", (run["state"], history)
    assert "CRASHED" not in history, history
    assert_no_process_of(run_id)
    return run


def test_cancel_running_plain_command_terminates_its_group(api, pool, start_worker, tmp_path):
    pidfile = tmp_path / "pid"
    run_id = api.create_run(api.create_deployment(
        pool, job_variables={"command": f"sh -c 'echo $$ > {pidfile}; exec sleep 300'"}))
    start_worker(pool)
    pid = read_pid(pidfile)

    api.cancel(run_id)

    run = assert_cancelled_cleanly(api, run_id)
    assert "process group terminated with SIGTERM after" in run["state"]["message"]
    assert process_gone(pid)
    assert types(api, run_id)[-2:] == ["CANCELLING", "CANCELLED"]


def test_child_that_ignores_sigterm_is_killed_after_the_grace(api, pool, start_worker, tmp_path):
    pidfile = tmp_path / "pid"
    command = f"sh -c 'trap \"\" TERM; echo $$ > {pidfile}; while true; do sleep 1; done'"
    run_id = api.create_run(api.create_deployment(pool, job_variables={"command": command}))
    start_worker(pool, "--cancel-grace-seconds", "2")
    pid = read_pid(pidfile)

    api.cancel(run_id)

    run = assert_cancelled_cleanly(api, run_id)
    assert "killed with SIGKILL after 2" in run["state"]["message"]
    assert process_gone(pid)


def test_cancel_kills_a_setsid_grandchild(api, pool, start_worker, tmp_path):
    child_pid, grandchild_pid = tmp_path / "child", tmp_path / "grandchild"
    command = (f"sh -c 'setsid sh -c \"echo \\$\\$ > {grandchild_pid}; exec sleep 300\" & "
               f"echo $$ > {child_pid}; wait'")
    run_id = api.create_run(api.create_deployment(pool, job_variables={"command": command}))
    start_worker(pool)
    child, grandchild = read_pid(child_pid), read_pid(grandchild_pid)

    api.cancel(run_id)

    assert_cancelled_cleanly(api, run_id)
    wait_for(lambda: process_gone(child) and process_gone(grandchild), 10, "the whole process tree to be gone")


def test_setsid_grandchild_left_by_a_finished_run_is_killed(api, pool, start_worker, tmp_path):
    grandchild_pid = tmp_path / "grandchild"
    command = (f"sh -c 'setsid sh -c \"echo \\$\\$ > {grandchild_pid}; exec sleep 300\" & "
               f"while [ ! -s {grandchild_pid} ]; do sleep 0.1; done'")
    run_id = api.create_run(api.create_deployment(pool, job_variables={"command": command}))
    worker = start_worker(pool)

    assert api.wait_terminal(run_id)["state_type"] == "COMPLETED"
    grandchild = read_pid(grandchild_pid)
    wait_for(lambda: process_gone(grandchild), 10, "the leftover daemon to be killed")
    assert "leftover process" in worker.output()
    assert_no_process_of(run_id)


def test_cancel_running_engine_flow_runs_its_on_cancellation_hook(api, pool, start_worker, tmp_path):
    started, hook = tmp_path / "started", tmp_path / "hook"
    deployment = api.create_deployment(
        pool, flow_name="slow-with-hook", entrypoint="demo_flow.py:slow_with_hook",
        job_variables={"env": {"STARTED_MARKER": str(started), "HOOK_MARKER": str(hook)}})
    run_id = api.create_run(deployment)
    start_worker(pool)
    pid = read_pid(started)

    api.cancel(run_id)

    run = assert_cancelled_cleanly(api, run_id, timeout=60)
    assert hook.read_text().startswith("on_cancellation ran"), "the flow's on_cancellation hook ran"
    # The engine itself records CANCELLED just before it exits.
    wait_for(lambda: process_gone(pid), 35, "the engine process to be gone")
    assert "RUNNING" in types(api, run_id)


def test_cancel_while_waiting_for_a_prefetched_start_never_starts_it(api, pool, start_worker, tmp_path):
    marker = tmp_path / "ran"
    deployment = api.create_deployment(pool, job_variables={"command": f"touch {marker}"})
    run_id = api.create_run(deployment, scheduled_in=40)
    worker = start_worker(pool, "--prefetch-seconds", "120")
    wait_for(lambda: "proposed RUNNING: WAIT" in worker.output(), 30, "the worker to wait for the scheduled time")

    api.cancel(run_id)

    run = assert_cancelled_cleanly(api, run_id)
    assert "before the flow run's process was started" in run["state"]["message"]
    assert not marker.exists()
    assert "RUNNING" not in types(api, run_id)


def test_cancel_prefetched_engine_run_that_waits_for_its_start(api, pool, start_worker, tmp_path):
    started = tmp_path / "started"
    deployment = api.create_deployment(
        pool, flow_name="slow-with-hook", entrypoint="demo_flow.py:slow_with_hook",
        job_variables={"env": {"STARTED_MARKER": str(started), "HOOK_MARKER": str(tmp_path / "hook")}})
    run_id = api.create_run(deployment, scheduled_in=60)
    worker = start_worker(pool, "--prefetch-seconds", "120")
    pid = int(wait_for(lambda: api.run(run_id)["infrastructure_pid"], 30, "the engine to be started early"))

    api.cancel(run_id)

    assert_cancelled_cleanly(api, run_id)
    wait_for(lambda: process_gone(pid), 35, "the engine process to be gone")
    assert not started.exists(), "the flow body never ran"


def test_cancel_run_whose_deployment_was_deleted(api, pool, start_worker, tmp_path):
    pidfile = tmp_path / "pid"
    deployment = api.create_deployment(pool, job_variables={"command": f"sh -c 'echo $$ > {pidfile}; exec sleep 300'"})
    run_id = api.create_run(deployment)
    start_worker(pool)
    pid = read_pid(pidfile)
    api.delete_deployment(deployment)

    api.cancel(run_id)

    assert_cancelled_cleanly(api, run_id)
    assert process_gone(pid)


def test_run_timeout_stops_the_run_and_says_so(api, pool, start_worker, tmp_path):
    pidfile = tmp_path / "pid"
    run_id = api.create_run(api.create_deployment(
        pool, job_variables={"command": f"sh -c 'echo $$ > {pidfile}; exec sleep 300'", "timeout_seconds": 2}))
    start_worker(pool)
    pid = read_pid(pidfile)

    run = api.wait_terminal(run_id, timeout=30)

    assert run["state_type"] == "CRASHED"
    assert run["state"]["message"].startswith("Timed out after 2")
    assert process_gone(pid)
    assert types(api, run_id)[-1] == "CRASHED"
    assert_no_process_of(run_id)


def zombies_of(parent_pid):
    found = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            fields = open(f"/proc/{entry}/stat").read().rsplit(")", 1)[1].split()
        except (FileNotFoundError, ProcessLookupError):
            continue
        if fields[0] == "Z" and int(fields[1]) == parent_pid:
            found.append(int(entry))
    return found


def orphans_of(parent_pid, command):
    found = []
    for entry in os.listdir("/proc"):
        try:
            if entry.isdigit() and open(f"/proc/{entry}/cmdline").read().replace("\0", " ").strip() == command:
                if int(open(f"/proc/{entry}/stat").read().rsplit(")", 1)[1].split()[1]) == parent_pid:
                    found.append(int(entry))
        except (FileNotFoundError, ProcessLookupError):
            continue
    return found


def test_orphans_of_a_run_are_reaped_by_the_worker(api, pool, start_worker, tmp_path):
    # Each ( ... &) forks a subshell that starts a sleep and exits at once: the sleeps are orphans
    # that the worker, a child subreaper, inherits, and must reap when they end during the run.
    command = "sh -c 'for i in 1 2 3 4 5; do (sleep 2.5 &); done; sleep 4'"
    run_id = api.create_run(api.create_deployment(pool, job_variables={"command": command}))
    worker = start_worker(pool)

    orphans = wait_for(lambda: len(orphans_of(worker.process.pid, "sleep 2.5")) == 5 and orphans_of(worker.process.pid, "sleep 2.5"),
                       20, "the run's orphans to be re-parented to the worker")
    assert api.wait_terminal(run_id)["state_type"] == "COMPLETED"
    assert all(process_gone(pid) for pid in orphans)
    wait_for(lambda: not zombies_of(worker.process.pid), 10, "no zombie children of the worker")
    assert worker.process.poll() is None
