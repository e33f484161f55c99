"""The worker on Prefect's production topology (tests/e2e/prefect_topology.py: PostgreSQL, two API
processes sharing it, Redis as the broker, the background services once), workers spread over
the API processes as there is no load balancer: a run created through one API process wakes a
worker connected to the other through the event stream, and three workers run 300 runs exactly
once."""
import statistics
import time
import uuid

import pytest

from conftest import default_process_template
from prefect_harness import PrefectAPI, create_marked_runs, executions, wait_for

pytestmark = pytest.mark.serial


def pool_on(api: PrefectAPI) -> str:
    name = f"pool-{uuid.uuid4().hex[:10]}"
    api.create_pool(name, base_job_template=default_process_template())
    return name


def test_a_run_created_through_one_api_process_wakes_a_worker_on_the_other(topology, start_worker):
    first, second = PrefectAPI(topology.urls[0]), PrefectAPI(topology.urls[1])
    pool = pool_on(first)
    # A 30 s poll interval: only the event stream (through Redis) can make the pickup fast.
    worker = start_worker(pool, api_url=topology.urls[1], env={"PREFECT_WORKER_QUERY_SECONDS": "30"})
    wait_for(lambda: "subscribed" in worker.output(), 60, "the worker's event stream to subscribe")
    deployment = first.create_deployment(pool, job_variables={"command": "true"})
    second.read_pool(pool)  # the other process sees the same database
    lags = []
    for _ in range(5):
        created = time.monotonic()
        run_id = first.create_run(deployment)
        wait_for(lambda: first.run(run_id)["state_type"] != "SCHEDULED", 30, "the claim", interval=0.05)
        lags.append(time.monotonic() - created)
        assert first.wait_terminal(run_id)["state_type"] == "COMPLETED"
    assert statistics.median(lags) < 1, lags
    assert max(lags) < 3, lags


def test_three_workers_on_two_api_processes_run_300_runs_exactly_once(topology, start_worker, tmp_path):
    first = PrefectAPI(topology.urls[0])
    pool = pool_on(first)
    markers = tmp_path / "markers"
    runs = create_marked_runs(first, pool, markers, 300)
    workers = [start_worker(pool, "--limit", "20", "--name", f"topology-{index}", api_url=topology.urls[index % 2])
               for index in range(3)]

    deadline = time.monotonic() + 300
    for run_id in runs:
        run = first.wait_terminal(run_id, timeout=max(5, deadline - time.monotonic()))
        assert run["state_type"] == "COMPLETED", run["state"]
    assert set(executions(markers, runs).values()) == {1}
    assert all(worker.process.poll() is None for worker in workers)
