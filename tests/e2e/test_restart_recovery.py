"""A worker that is SIGKILLed and restarted finds the runs it held in its ledger: a process that
still runs is adopted and its end reported; one that is gone is reported CRASHED within one
heartbeat interval; a claimed run that never started is handed back."""
import json
import os
import signal
import subprocess
import time
import uuid

from prefect_harness import create_marked_runs, executions, process_gone, read_pid, run_processes, wait_for


def kill_hard(worker):
    """SIGKILL: the worker gets no chance to clean up or report anything."""
    worker.process.send_signal(signal.SIGKILL)
    worker.process.wait(timeout=10)


def start_long_run_then_kill_the_worker(api, pool, start_worker, tmp_path):
    """A plain command that runs for minutes, its worker SIGKILLed once it started: (run id, pid)."""
    pidfile = tmp_path / "pid"
    run_id = api.create_run(api.create_deployment(
        pool, job_variables={"command": f"sh -c 'echo $$ > {pidfile}; exec sleep 300'"}))
    worker = start_worker(pool)
    pid = read_pid(pidfile)
    kill_hard(worker)
    return run_id, pid


def test_surviving_engine_run_is_adopted_and_its_end_seen(api, pool, start_worker, tmp_path):
    started = tmp_path / "started"
    deployment = api.create_deployment(pool, flow_name="sleepy", entrypoint="demo_flow.py:sleepy",
                                       parameters={"seconds": 8}, job_variables={"env": {"STARTED_MARKER": str(started)}})
    run_id = api.create_run(deployment)
    first = start_worker(pool, "--name", "restarted")
    pid = read_pid(started)
    kill_hard(first)

    second = start_worker(pool, "--name", "restarted")

    wait_for(lambda: "adopting a flow run" in second.output(), 20, "the restarted worker to adopt the run")
    assert api.wait_terminal(run_id, timeout=60)["state_type"] == "COMPLETED"
    wait_for(lambda: process_gone(pid), 20, "the adopted process to end")
    assert not run_processes(run_id)


def test_adopted_run_can_still_be_cancelled(api, pool, start_worker, tmp_path):
    run_id, pid = start_long_run_then_kill_the_worker(api, pool, start_worker, tmp_path)
    second = start_worker(pool)
    wait_for(lambda: "adopting a flow run" in second.output(), 20, "the restarted worker to adopt the run")

    api.cancel(run_id)

    run = api.wait_terminal(run_id, timeout=30)
    assert run["state_type"] == "CANCELLED", run["state"]
    wait_for(lambda: process_gone(pid) and not run_processes(run_id), 20, "the adopted process tree to be gone")


def test_run_whose_process_died_with_the_worker_is_reported_crashed(api, pool, start_worker, tmp_path):
    run_id, pid = start_long_run_then_kill_the_worker(api, pool, start_worker, tmp_path)
    os.kill(pid, signal.SIGKILL)  # the run's process dies while no worker watches
    wait_for(lambda: process_gone(pid), 10, "the orphan to die")
    assert api.run(run_id)["state_type"] == "RUNNING"

    restarted_at = time.monotonic()
    start_worker(pool)  # heartbeat interval 2 s in the harness

    run = api.wait_terminal(run_id, timeout=30)
    assert time.monotonic() - restarted_at < 2 + 5, "reported within about one heartbeat interval of the restart"
    assert run["state_type"] == "CRASHED"
    assert "Worker restarted" in run["state"]["message"] and f"pid {pid}" in run["state"]["message"]


def test_claimed_run_that_never_started_is_handed_back_and_run(api, pool, start_worker, tmp_path):
    marker = tmp_path / "ran"
    run_id = api.create_run(api.create_deployment(pool, job_variables={"command": f"touch {marker}"}), scheduled_in=60)
    first = start_worker(pool, "--prefetch-seconds", "120")
    wait_for(lambda: "proposed RUNNING: WAIT" in first.output(), 30, "the worker to hold the claimed run")
    kill_hard(first)
    assert api.run(run_id)["state_type"] == "PENDING"

    # A claimed run is decided once a request the dead worker sent can no longer land: 30 s.
    start_worker(pool, env={"PREFECT_API_REQUEST_TIMEOUT": "10"})

    assert api.wait_terminal(run_id, timeout=90)["state_type"] == "COMPLETED"
    history = [(state["type"], state["message"] or "") for state in api.history(run_id)]
    assert any(kind == "SCHEDULED" and "Worker restarted before" in message for kind, message in history), history
    assert marker.exists()


def test_a_worker_killed_in_the_milliseconds_around_a_claim_or_a_spawn_leaves_no_run_stuck(api, pool, start_worker, tmp_path):
    """The ledger entries a worker leaves when it dies right after the server took its claim, or
    between starting a run's process and writing its pid down (windows of milliseconds that a
    kill -9 under load does hit), written here as such a worker leaves them. The restarted worker
    adopts the process it finds by the run's id, crashes the run whose process is gone, hands back
    the claim the server took, leaves alone another worker's claim, and puts back the COMPLETED
    state of a run a late claim re-opened."""
    adopted, vanished, mine, theirs, finished = create_marked_runs(api, pool, tmp_path / "markers", 5)
    gate = tmp_path / "gate"
    survivor = subprocess.Popen(  # the process the dead worker started: its own group, our child
        ["timeout", "120", "sh", "-c", f"while [ ! -e {gate} ]; do sleep 0.1; done"], start_new_session=True,
        env={**os.environ, "PREFECT__FLOW_RUN_ID": adopted})
    for run_id in (adopted, vanished):
        api.set_state(run_id, "RUNNING", "Running")
    claim_of_the_dead_worker, claim_of_another_worker = str(uuid.uuid4()), str(uuid.uuid4())
    # Claims as workers make them (not forced: the server copies the scheduled time into PENDING).
    api.set_state(mine, "PENDING", "Pending", transition_id=claim_of_the_dead_worker, force=False)
    api.set_state(theirs, "PENDING", "Pending", transition_id=claim_of_another_worker, force=False)
    # A claim held past its timeout that reached the server after the run had finished: the
    # server re-opens a COMPLETED run (no persisted result) for it.
    late_claim = str(uuid.uuid4())
    api.set_state(finished, "COMPLETED", "Completed")
    api.set_state(finished, "PENDING", "Pending", transition_id=late_claim, force=False)
    assert api.run(finished)["state_type"] == "PENDING"
    ledger = tmp_path / "worker-state" / "pools" / pool / "runs"
    ledger.mkdir(parents=True)
    dead = subprocess.Popen(["true"])  # the worker process that wrote the entries, gone
    dead.wait()
    def leave(run_id: str, phase: str, **fields):
        entry = {"flowRunId": run_id, "flowRunName": "a-run", "workerName": "dead", "workerPid": dead.pid,
                 "workerStartTime": 1, "phase": phase, "reporting": "worker", "updated": time.time(), **fields}
        (ledger / f"{run_id}.{dead.pid}.json").write_text(json.dumps(entry))
    leave(adopted, "starting")
    leave(vanished, "starting")
    leave(mine, "claimed", claimTransitionId=claim_of_the_dead_worker)
    leave(theirs, "claimed", claimTransitionId=claim_of_the_dead_worker)
    leave(finished, "claimed", claimTransitionId=late_claim)

    # Entries of runs being claimed or started are decided once a request the dead worker sent
    # can no longer land: 30 s after the start.
    worker = start_worker(pool, env={"PREFECT_API_REQUEST_TIMEOUT": "10"})

    wait_for(lambda: "adopting a flow run" in worker.output(), 30, "the restarted worker to adopt the process")
    crashed = api.wait_terminal(vanished, timeout=90)
    assert crashed["state_type"] == "CRASHED" and "while it was starting" in crashed["state"]["message"], crashed["state"]
    assert api.wait_terminal(mine, timeout=60)["state_type"] == "COMPLETED", "handed back, then run here"
    history = [(state["type"], state["message"] or "") for state in api.history(mine)]
    assert any(kind == "SCHEDULED" and "Worker restarted before" in message for kind, message in history), history
    wait_for(lambda: not list(ledger.glob(f"{theirs}.*")), 60, "the other worker's claim to be dropped from the ledger")
    assert api.run(theirs)["state_type"] == "PENDING", "another worker's claim is left to it"
    assert api.run(adopted)["state_type"] == "RUNNING"
    assert api.wait_terminal(finished, timeout=30)["state_type"] == "COMPLETED", "the state before the late claim, put back"

    gate.touch()
    survivor.wait(timeout=10)
    ended = api.wait_terminal(adopted, timeout=30)
    assert ended["state_type"] == "CRASHED" and "exit status unknown" in ended["state"]["message"], ended["state"]
    assert executions(tmp_path / "markers", [adopted, vanished, mine, theirs, finished]) == {
        adopted: 0, vanished: 0, mine: 1, theirs: 0, finished: 0}


def test_a_run_that_ended_while_its_final_state_was_held_gets_that_state_after_a_restart(server, api, pool, start_worker, tmp_path):
    from chaos_proxy import ChaosProxy, FaultRates
    proxy = ChaosProxy(server.port, FaultRates(), seed=1).start()
    try:
        # The command succeeds; its COMPLETED is held (a server gone quiet) and the worker is killed
        # meanwhile, as an operator restarting it during an outage would.
        proxy.once(lambda request: b"/set_state" in request.split(b"\r\n", 1)[0] and b'"COMPLETED"' in request, "hang")
        run_id, = create_marked_runs(api, pool, tmp_path / "markers", 1)
        first = start_worker(pool, "--name", "held", api_url=proxy.url, env={"PREFECT_API_REQUEST_TIMEOUT": "60"})
        wait_for(lambda: proxy.injected["hang"] == 1, 60, "the final state to be held")
        assert executions(tmp_path / "markers", [run_id]) == {run_id: 1}
        kill_hard(first)
        assert api.run(run_id)["state_type"] == "RUNNING"

        start_worker(pool, "--name", "held")

        run = api.wait_terminal(run_id, timeout=60)
        assert run["state_type"] == "COMPLETED", run["state"]
        assert run["state"]["message"] == "Command exited with code 0."
        assert executions(tmp_path / "markers", [run_id]) == {run_id: 1}
    finally:
        proxy.stop()
