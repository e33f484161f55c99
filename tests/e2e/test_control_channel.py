"""Version 2 of the engine's control channel (Prefect's attempt-control protocol): the engine's
receipt saves the read after its exit; a cut drain reschedules an engine run for another worker
instead of crashing it; an engine that speaks only version 1 still takes a cancel."""
import signal
import sys

from prefect_harness import FLOWS_DIR, api_requests, free_port, wait_for


def test_a_version_2_engines_receipt_is_its_final_state_without_a_read(api, pool, start_worker):
    port = free_port()
    start_worker(pool, "--with-metrics", env={"PREFECT_WORKER_WEBSERVER_PORT": str(port)})
    completed = api.create_run(api.create_deployment(pool))
    failed = api.create_run(api.create_deployment(pool, flow_name="boom", entrypoint="demo_flow.py:boom"))

    assert api.wait_terminal(completed, timeout=120)["state_type"] == "COMPLETED"
    assert api.wait_terminal(failed, timeout=120)["state_type"] == "FAILED"
    # Both engines sent their receipt before exiting: the worker did not read either run back.
    wait_for(lambda: api_requests(port, 'route="POST /flow_runs/{id}/set_state"') >= 2, 10, "the claims in the metrics")
    assert api_requests(port, 'route="GET /flow_runs/{id}"') == 0


def test_a_cut_drain_reschedules_the_engine_run_and_another_worker_completes_it(api, pool, start_worker, tmp_path):
    started = tmp_path / "started"
    deployment = api.create_deployment(pool, flow_name="sleepy", entrypoint="demo_flow.py:sleepy",
                                       parameters={"seconds": 6}, job_variables={"env": {"STARTED_MARKER": str(started)}})
    run_id = api.create_run(deployment)
    first = start_worker(pool, "--drain-seconds", "1", "--name", "cut-worker")
    wait_for(started.exists, 90, "the flow to start")
    first.process.send_signal(signal.SIGTERM)
    assert first.process.wait(timeout=60) == 3, first.output()

    run = api.run(run_id)
    assert (run["state_type"], run["state_name"]) == ("SCHEDULED", "AwaitingRetry"), run["state"]
    assert "rescheduled for another worker" in run["state"]["message"]
    assert "engine acknowledged the reschedule intent" in first.output()
    started.unlink()
    start_worker(pool, "--name", "next-worker")
    assert api.wait_terminal(run_id, timeout=120)["state_type"] == "COMPLETED"
    types = [state["type"] for state in api.history(run_id)]
    assert "CRASHED" not in types, types
    assert types.count("RUNNING") == 2, types


def test_an_engine_speaking_only_version_1_still_takes_a_cancel(api, pool, server, start_worker, tmp_path):
    marker = tmp_path / "engine-saw"
    command = f"{sys.executable} {FLOWS_DIR / 'fake_v1_engine.py'}"
    run_id = api.create_run(api.create_deployment(pool, job_variables={
        "command": command, "state_reporting": "engine",
        "env": {"FAKE_MARKER": str(marker), "FAKE_API_URL": server.url}}))
    start_worker(pool, "--cancel-grace-seconds", "10")
    wait_for(lambda: marker.exists() and marker.read_text() == "connected", 60, "the fake engine to connect")
    api.cancel(run_id)

    run = api.wait_terminal(run_id)
    assert run["state_type"] == "CANCELLED", run["state"]
    assert marker.read_text() == "intent=c sigterm", "the intent, acknowledged, then SIGTERM (not SIGKILL)"
