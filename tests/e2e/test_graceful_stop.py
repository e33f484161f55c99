"""SIGTERM/SIGINT drain the worker: runs in flight finish, or are stopped and reported at the
deadline (or at a second signal); nothing is left RUNNING or PENDING, no process is left behind."""
import signal

from prefect_harness import read_pid, run_processes, wait_for


def types(api, run_id):
    return [state["type"] for state in api.history(run_id)]


def test_sigterm_lets_runs_in_flight_finish_and_exits_0(api, pool, start_worker, tmp_path):
    deployment = api.create_deployment(pool, job_variables={"command": f"sh -c 'touch {tmp_path}/$PREFECT__FLOW_RUN_ID; sleep 3'"})
    runs = [api.create_run(deployment) for _ in range(2)]
    worker = start_worker(pool)
    wait_for(lambda: all((tmp_path / run_id).exists() for run_id in runs), 30, "both runs to start")

    worker.process.send_signal(signal.SIGTERM)
    later = api.create_run(deployment)

    assert worker.process.wait(timeout=60) == 0
    assert [api.run(run_id)["state_type"] for run_id in runs] == ["COMPLETED", "COMPLETED"]
    assert api.run(later)["state_type"] == "SCHEDULED", "a stopping worker claims nothing new"


def test_drain_deadline_stops_runs_reports_them_crashed_and_exits_3(api, pool, start_worker, tmp_path):
    pidfile = tmp_path / "pid"
    run_id = api.create_run(api.create_deployment(
        pool, job_variables={"command": f"sh -c 'echo $$ > {pidfile}; exec sleep 300'"}))
    worker = start_worker(pool, "--drain-seconds", "2", "--cancel-grace-seconds", "2")
    read_pid(pidfile)

    worker.process.send_signal(signal.SIGTERM)

    assert worker.process.wait(timeout=60) == 3
    run = api.run(run_id)
    assert run["state_type"] == "CRASHED"
    assert run["state"]["message"].startswith("Worker stopped before the flow run finished; process group terminated with SIGTERM")
    assert not run_processes(run_id)


def test_second_signal_stops_runs_at_once(api, pool, start_worker, tmp_path):
    pidfile = tmp_path / "pid"
    run_id = api.create_run(api.create_deployment(
        pool, job_variables={"command": f"sh -c 'echo $$ > {pidfile}; exec sleep 300'"}))
    worker = start_worker(pool, "--drain-seconds", "300")
    read_pid(pidfile)

    worker.process.send_signal(signal.SIGINT)
    wait_for(lambda: "stopped claiming" in worker.output(), 10, "the drain to begin")
    worker.process.send_signal(signal.SIGINT)

    assert worker.process.wait(timeout=30) == 3
    assert api.run(run_id)["state_type"] == "CRASHED"
    assert not run_processes(run_id)


def test_claimed_run_not_started_yet_is_handed_back_as_scheduled(api, pool, start_worker, tmp_path):
    marker = tmp_path / "ran"
    run_id = api.create_run(api.create_deployment(pool, job_variables={"command": f"touch {marker}"}), scheduled_in=60)
    worker = start_worker(pool, "--prefetch-seconds", "120", "--drain-seconds", "1")
    wait_for(lambda: "proposed RUNNING: WAIT" in worker.output(), 30, "the worker to wait for the scheduled time")

    worker.process.send_signal(signal.SIGTERM)

    assert worker.process.wait(timeout=30) == 3
    run = api.run(run_id)
    assert run["state_type"] == "SCHEDULED", run["state"]
    assert "rescheduled" in run["state"]["message"]
    assert not marker.exists()
    assert "CRASHED" not in types(api, run_id)

    successor = start_worker(pool)
    assert api.wait_terminal(run_id, timeout=60)["state_type"] == "COMPLETED", "another worker takes it over"
    assert marker.exists() and successor.process.poll() is None
