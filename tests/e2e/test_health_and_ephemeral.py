"""The health endpoint (--with-healthcheck) and the ephemeral modes (--run-once, --max-runs,
--exit-after-idle)."""
import signal
import time

import httpx

from prefect_harness import PrefectServer, free_port, wait_for


def probe(port: int, path: str) -> tuple[int, dict]:
    try:
        answer = httpx.get(f"http://127.0.0.1:{port}{path}", timeout=5)
        return answer.status_code, answer.json()
    except httpx.HTTPError:
        return 0, {}


def wait_status(port: int, path: str, status: int, timeout: float) -> dict:
    return wait_for(lambda: (lambda got: got[1] if got[0] == status else None)(probe(port, path)) or None,
                    timeout, f"{path} to answer {status}", interval=0.25)


def test_health_goes_503_when_the_server_is_gone_and_200_when_it_is_back(tmp_path, start_worker):
    server = PrefectServer(tmp_path / "health-server").start()
    try:
        port = free_port()
        pool = "health-pool"
        worker = start_worker(pool, "--with-healthcheck", api_url=server.url,
                              env={"PREFECT_WORKER_WEBSERVER_PORT": str(port)})
        assert wait_status(port, "/health", 200, 30) == {"message": "OK"}, "exactly what Prefect's worker answers"
        ready = wait_status(port, "/health/ready", 200, 30)
        assert ready["message"] == "ready" and ready["draining"] is False

        server.stop()
        unhealthy = wait_status(port, "/health", 503, 60)
        assert unhealthy["message"] == "Worker may be unresponsive at this time"
        # The poll's or the heartbeat's age passed the threshold (both max(3 intervals, 10 s) = 10 s here).
        assert max(unhealthy["last_poll_s_ago"], unhealthy["last_heartbeat_s_ago"]) >= unhealthy["poll_stale_after_s"]
        assert probe(port, "/health/ready")[0] == 503
        assert probe(port, "/health/live")[0] == 200, "the process is alive: a liveness probe must not restart it"

        server.start()
        wait_status(port, "/health", 200, 90)
        wait_status(port, "/health/ready", 200, 30)
        assert worker.process.poll() is None
    finally:
        server.stop()


def test_draining_is_not_ready_but_healthy_and_a_taken_port_is_a_settings_error(api, pool, start_worker, tmp_path):
    port = free_port()
    pidfile = tmp_path / "pid"
    api.create_run(api.create_deployment(pool, job_variables={"command": f"sh -c 'echo $$ > {pidfile}; exec sleep 300'"}))
    worker = start_worker(pool, "--with-healthcheck", "--drain-seconds", "60",
                          env={"PREFECT_WORKER_WEBSERVER_PORT": str(port)})
    wait_for(pidfile.exists, 30, "the run to start")
    wait_status(port, "/health/ready", 200, 30)

    second = start_worker(pool, "--with-healthcheck", env={"PREFECT_WORKER_WEBSERVER_PORT": str(port)})
    assert second.process.wait(timeout=30) == 2
    message = second.output().strip()
    assert message.count("\n") == 0 and "PREFECT_WORKER_WEBSERVER_PORT" in message, message

    worker.process.send_signal(signal.SIGTERM)
    draining = wait_status(port, "/health/ready", 503, 15)
    assert draining["draining"] is True and draining["in_flight"] == 1
    assert probe(port, "/health")[0] == 200, "a drain stops polling on purpose"


def test_max_runs_takes_that_many_and_exits_0_once_they_are_done(api, pool, start_worker):
    deployment = api.create_deployment(pool, job_variables={"command": "sleep 1"})
    runs = [api.create_run(deployment) for _ in range(3)]
    worker = start_worker(pool, "--max-runs", "2", "--limit", "1")
    assert worker.process.wait(timeout=90) == 0
    states = sorted(api.run(run_id)["state_type"] for run_id in runs)
    assert states == ["COMPLETED", "COMPLETED", "SCHEDULED"], states
    assert "took the 2 flow run(s) of --max-runs" in worker.output()


def test_exit_after_idle_waits_for_the_runs_then_for_the_idle_time(api, pool, start_worker):
    run_id = api.create_run(api.create_deployment(pool, job_variables={"command": "sleep 4"}))
    started = time.monotonic()
    worker = start_worker(pool, "--exit-after-idle", "3")
    assert worker.process.wait(timeout=60) == 0
    assert api.run(run_id)["state_type"] == "COMPLETED"
    assert time.monotonic() - started >= 4 + 3 - 0.5, "the run, then 3 s of idleness"
    assert "idle for 3.0 s (--exit-after-idle)" in worker.output()


def child_environ(pidfile) -> bytes:
    pid = int(wait_for(lambda: pidfile.exists() and pidfile.read_text().strip(), 30, "the child's pid"))
    return open(f"/proc/{pid}/environ", "rb").read()


def test_the_api_key_is_not_in_a_childs_environment_unless_asked_for(api, pool, start_worker, tmp_path):
    """By default neither the key (from the environment or a *_FILE) nor the file's path, nor the
    custom headers, reach /proc/<child>/environ; PREFECT_WORKER_PASS_CREDENTIALS_TO_RUNS=true passes them."""
    key_file = tmp_path / "api-key"
    key_file.write_text("pnu_from_a_file_0123\n")
    deployment = api.create_deployment(pool, job_variables={"command": f"sh -c 'echo $$ > {tmp_path}/$PREFECT__FLOW_RUN_ID; exec sleep 60'"})
    secrets = {"PREFECT_CLIENT_CUSTOM_HEADERS": '{"X-Token": "hdr-s3cret"}', "AWS_SECRET_ACCESS_KEY": "aws-s3cret",
               "PREFECT_WORKER_ENV_DENY": "AWS_*"}

    run_id = api.create_run(deployment)
    worker = start_worker(pool, env={"PREFECT_API_KEY": "pnu_from_the_env_0123", **secrets})
    environ = child_environ(tmp_path / run_id)
    assert b"PREFECT__FLOW_RUN_ID=" + run_id.encode() in environ
    for secret in (b"pnu_from_the_env_0123", b"hdr-s3cret", b"aws-s3cret", b"PREFECT_API_KEY"):
        assert secret not in environ, secret
    api.cancel(run_id)
    api.wait_terminal(run_id)
    worker.stop()

    run_id = api.create_run(deployment)
    worker = start_worker(pool, env={"PREFECT_API_KEY_FILE": str(key_file), **secrets})
    environ = child_environ(tmp_path / run_id)
    assert b"pnu_from_a_file_0123" not in environ and str(key_file).encode() not in environ
    api.cancel(run_id)
    api.wait_terminal(run_id)
    worker.stop()

    run_id = api.create_run(deployment)
    start_worker(pool, env={"PREFECT_API_KEY_FILE": str(key_file), "PREFECT_WORKER_PASS_CREDENTIALS_TO_RUNS": "true", **secrets})
    environ = child_environ(tmp_path / run_id)
    assert b"PREFECT_API_KEY=pnu_from_a_file_0123" in environ
    assert b"aws-s3cret" not in environ, "the deny list applies whatever the credentials setting"
    api.cancel(run_id)
    api.wait_terminal(run_id)
