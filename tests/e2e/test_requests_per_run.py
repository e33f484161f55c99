"""What a run asks of the server (docs/architecture.md, "Requests per run"): the reads many runs
make at the same time share one filter request."""
import time

from chaos_proxy import ChaosProxy, FaultRates
from prefect_harness import api_requests, free_port, wait_for


def final_state_read(request: bytes) -> bool:
    """A read of runs' states after their processes exited (the cancellation check asks for
    CANCELLING runs only)."""
    return request.startswith(b"POST /api/flow_runs/filter ") and b"CANCELLING" not in request


def deployment_read(request: bytes) -> bool:
    """A read of claimed runs' deployments."""
    return request.startswith(b"POST /api/deployments/filter ")


def test_runs_that_end_together_read_their_states_in_shared_requests(server, api, pool, start_worker, tmp_path):
    proxy = ChaosProxy(server.port, FaultRates(), seed=1).start()
    try:
        # The first two reads are held 1.5 s (a slow server): the runs that end meanwhile wait for
        # one of them and then go together.
        proxy.once(final_state_read, "stall", seconds=1.5).once(final_state_read, "stall", seconds=1.5)
        # The same for the deployments the claimed runs read: on a server as fast as this one, ten
        # claims that land apart could each read alone, which is right for an idle worker.
        proxy.once(deployment_read, "stall", seconds=1.5).once(deployment_read, "stall", seconds=1.5)
        go, markers = tmp_path / "go", tmp_path / "markers"
        markers.mkdir()
        command = f"sh -c 'while [ ! -e {go} ]; do sleep 0.05; done; touch {markers}/$PREFECT__FLOW_RUN_ID'"
        deployment = api.create_deployment(pool, job_variables={"command": command})
        runs = [api.create_run(deployment) for _ in range(10)]
        port = free_port()
        start_worker(pool, "--limit", "10", "--with-metrics", api_url=proxy.url, env={"PREFECT_WORKER_WEBSERVER_PORT": str(port)})
        wait_for(lambda: all(run["state_type"] == "RUNNING" for run in api.runs(runs)), 60, "the 10 runs to be RUNNING")
        reads_before = api_requests(port, 'route="POST /flow_runs/filter"')
        go.touch()

        deadline = time.monotonic() + 60
        for run_id in runs:
            assert api.wait_terminal(run_id, timeout=max(1, deadline - time.monotonic()))["state_type"] == "COMPLETED"
        assert sorted(path.name for path in markers.iterdir()) == sorted(runs)
        assert proxy.injected["stall"] == 4
        reads = api_requests(port, 'route="POST /flow_runs/filter"') - reads_before
        # Two held reads, one for the eight that waited, and at most one cancellation check; a
        # read per run would be ten.
        assert reads <= 4, reads
        # No run read its deployment or its state on its own.
        assert api_requests(port, 'route="GET /flow_runs/{id}"') == 0
        assert api_requests(port, 'route="GET /deployments/{id}"') == 0
        assert api_requests(port, 'route="POST /deployments/filter"') < 10
    finally:
        proxy.stop()
