"""Prometheus metrics at /metrics (--with-metrics): counts after a few runs of every ending."""
import re
import subprocess
import time
from pathlib import Path

import httpx

from prefect_harness import WORKER_BIN, free_port, read_pid, wait_for


def worker_version() -> tuple[str, str]:
    """The version and commit that `prefect-worker --version` prints (tests/e2e/test_cli.py checks them)."""
    lines = subprocess.run([WORKER_BIN, "--version"], capture_output=True, text=True, check=True, timeout=10).stdout.splitlines()
    return lines[0], lines[1].removeprefix("commit ")


def scrape(port: int) -> dict[str, float]:
    """`name{labels}` -> value, from the Prometheus text format."""
    answer = httpx.get(f"http://127.0.0.1:{port}/metrics", timeout=5)
    assert answer.status_code == 200
    assert answer.headers["content-type"].startswith("text/plain; version=0.0.4")
    samples = {}
    for line in answer.text.splitlines():
        if line and not line.startswith("#"):
            name, value = line.rsplit(" ", 1)
            samples[name] = float(value)
    return samples


def test_metrics_count_the_runs_by_final_state_and_the_api_calls_by_route(api, pool, start_worker, tmp_path: Path):
    port = free_port()
    worker = start_worker(pool, "--with-metrics", "--limit", "2", env={"PREFECT_WORKER_WEBSERVER_PORT": str(port)})
    completed = api.create_deployment(pool, job_variables={"command": "sh -c 'echo one; echo two'"})
    failing = api.create_deployment(pool, job_variables={"command": "sh -c 'echo failing; exit 3'"})
    pidfile = tmp_path / "sleeper.pid"
    sleeping = api.create_deployment(pool, job_variables={"command": f"sh -c 'echo $$ > {pidfile}; exec sleep 300'"})
    runs = [api.create_run(completed), api.create_run(completed), api.create_run(failing)]
    for run_id in runs:
        api.wait_terminal(run_id)
    cancelled = api.create_run(sleeping)
    read_pid(pidfile)
    api.cancel(cancelled)
    assert api.wait_terminal(cancelled)["state"]["type"] == "CANCELLED"

    def settled():
        samples = scrape(port)
        return samples if samples.get('prefect_worker_flow_runs_finished_total{state="CANCELLED"}') == 1 else None

    samples = wait_for(settled, 30, "the cancelled run to be counted")
    assert samples["prefect_worker_flow_runs_claimed_total"] == 4
    assert samples["prefect_worker_flow_runs_started_total"] == 4
    assert samples['prefect_worker_flow_runs_finished_total{state="COMPLETED"}'] == 2
    assert samples['prefect_worker_flow_runs_finished_total{state="FAILED"}'] == 1
    assert samples["prefect_worker_flow_run_cancellations_total"] == 1
    assert samples.get("prefect_worker_flow_run_claim_aborts_total", 0) == 0
    assert samples["prefect_worker_flow_runs_in_flight"] == 0
    assert samples["prefect_worker_flow_run_limit"] == 2
    assert samples["prefect_worker_claim_to_spawn_seconds_count"] == 4
    assert samples["prefect_worker_output_lines_written_total"] == 5  # one, two, one, two, failing
    assert samples.get("prefect_worker_output_lines_dropped_total", 0) == 0
    claims = 'prefect_worker_api_requests_total{route="POST /flow_runs/{id}/set_state",code="201"}'
    assert samples[claims] >= 4 + 3 * 2  # 4 claims, RUNNING and the final state of 3 plain commands
    assert samples.get('prefect_worker_api_request_errors_total{route="POST /flow_runs/{id}/set_state"}', 0) == 0
    assert samples['prefect_worker_api_request_duration_seconds_count{route="POST /flow_runs/{id}/set_state"}'] >= 10
    assert any(re.fullmatch(r'prefect_worker_api_requests_total\{route="POST /work_pools/\{name\}/workers/heartbeat",code="\d+"\}', name)
               for name in samples)
    now = time.time()
    assert now - 30 < samples["prefect_worker_last_poll_timestamp_seconds"] <= now + 1
    assert now - 30 < samples["prefect_worker_last_heartbeat_timestamp_seconds"] <= now + 1
    assert 1_000_000 < samples["process_resident_memory_bytes"] < 200_000_000
    version, commit = worker_version()
    assert samples[f'prefect_worker_build_info{{version="{version}",commit="{commit}"}}'] == 1
    assert httpx.get(f"http://127.0.0.1:{port}/health", timeout=5).json() == {"message": "OK"}
    assert worker.stop() == 0
