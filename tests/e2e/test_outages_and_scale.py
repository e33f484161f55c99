"""Nothing is lost and nothing runs twice: a server outage in the middle of a burst, three workers
on one pool, paused pools and queues, and pool/queue concurrency limits."""
import signal
import time
import uuid

import pytest

from conftest import default_process_template
from prefect_harness import PrefectAPI, PrefectServer, create_marked_runs, executions, wait_for
from test_concurrency import intervals, max_overlap


@pytest.mark.serial
def test_server_down_for_20_s_mid_burst_loses_no_run_and_runs_none_twice(tmp_path, start_worker):
    server = PrefectServer(tmp_path / "outage-server").start()
    try:
        api = PrefectAPI(server.url)
        pool = "outage-pool"
        api.create_pool(pool, base_job_template=default_process_template())
        markers = tmp_path / "markers"
        runs = create_marked_runs(api, pool, markers, 50, then="sleep 1")
        worker = start_worker(pool, "--limit", "10", api_url=server.url)
        wait_for(lambda: len(list(markers.iterdir())) >= 10, 60, "the burst to be under way")

        server.stop()
        time.sleep(20)  # the outage itself is the thing under test
        server.start()

        for run_id in runs:
            assert api.wait_terminal(run_id, timeout=240)["state_type"] == "COMPLETED", api.run(run_id)["state"]
        assert set(executions(markers, runs).values()) == {1}, executions(markers, runs)
        assert worker.process.poll() is None
        assert "could not be reached" in worker.output()
    finally:
        server.stop()


@pytest.mark.serial
def test_three_workers_150_runs_each_run_exactly_once(api, pool, start_worker, tmp_path):
    markers = tmp_path / "markers"
    runs = create_marked_runs(api, pool, markers, 150)
    workers = [start_worker(pool, "--name", f"trio-{index}", "--limit", "10") for index in range(3)]

    for run_id in runs:
        assert api.wait_terminal(run_id, timeout=300)["state_type"] == "COMPLETED"

    counts = executions(markers, runs)
    twice = {run_id: [(s["timestamp"][11:23], s["type"], s["name"], (s["state_details"] or {}).get("scheduled_time"))
                      for s in api.history(run_id)] for run_id, count in counts.items() if count != 1}
    assert not twice, twice
    for run_id in runs[:20]:
        assert [state["type"] for state in api.history(run_id)].count("RUNNING") == 1
    assert len(list(markers.iterdir())) == 150
    assert all(worker.process.poll() is None for worker in workers)


def test_paused_pool_is_respected(api, start_worker, tmp_path):
    pool = f"paused-{uuid.uuid4().hex[:8]}"
    api.create_pool(pool, base_job_template=default_process_template())
    api._call("PATCH", f"/work_pools/{pool}", json={"is_paused": True})
    run_id = api.create_run(api.create_deployment(pool, job_variables={"command": "true"}))
    worker = start_worker(pool)
    wait_for(lambda: "worker online" in worker.output(), 30, "the worker to be online")
    time.sleep(3)  # three polls of a paused pool must not take the run
    assert api.run(run_id)["state_type"] == "SCHEDULED"

    api._call("PATCH", f"/work_pools/{pool}", json={"is_paused": False})

    assert api.wait_terminal(run_id)["state_type"] == "COMPLETED"


def test_queue_concurrency_limit_is_respected_with_the_local_limit(api, pool, start_worker, tmp_path):
    api._call("POST", f"/work_pools/{pool}/queues", json={"name": "narrow", "concurrency_limit": 1})
    spans = tmp_path / "spans"
    spans.mkdir()
    command = f"sh -c 's=$(date +%s%N); sleep 1; echo \"$s $(date +%s%N)\" > {spans}/$PREFECT__FLOW_RUN_ID.span'"
    flow_id = api._call("POST", "/flows/", json={"name": "narrow-flow"})["id"]
    deployment = api._call("POST", "/deployments/", json={
        "name": f"narrow-{uuid.uuid4().hex[:6]}", "flow_id": flow_id, "work_pool_name": pool,
        "work_queue_name": "narrow", "job_variables": {"command": command}})["id"]
    runs = [api.create_run(deployment) for _ in range(4)]
    start_worker(pool, "--limit", "4", "--work-queue", "narrow")

    for run_id in runs:
        assert api.wait_terminal(run_id, timeout=90)["state_type"] == "COMPLETED"
    assert max_overlap(intervals(spans)) == 1
