"""Registration, pools, heartbeats, the command line, and a server that is not up yet."""
import subprocess
import sys
import uuid

from prefect_harness import WORKER_BIN, PrefectServer, free_port, wait_for


def run_cli(*args, env=None, timeout=20):
    import os
    full_env = {key: value for key, value in os.environ.items() if not key.startswith("PREFECT_")}
    full_env.update(env or {})
    return subprocess.run([str(WORKER_BIN), *args], env=full_env, capture_output=True, text=True, timeout=timeout)


def test_missing_api_url_is_a_one_line_error_with_exit_code_2():
    result = run_cli("start", "--pool", "p")
    assert result.returncode == 2
    assert result.stderr.strip().count("\n") == 0
    assert "PREFECT_API_URL" in result.stderr


def test_malformed_settings_name_the_setting_and_exit_2():
    env = {"PREFECT_API_URL": "http://127.0.0.1:9/api"}
    for name, value in [("PREFECT_WORKER_QUERY_SECONDS", "often"), ("PREFECT_WORKER_HEARTBEAT_SECONDS", "-1"),
                        ("PREFECT_WORKER_PREFETCH_SECONDS", "x"), ("PREFECT_CLIENT_CUSTOM_HEADERS", "[1]")]:
        result = run_cli("start", "--pool", "p", env={**env, name: value})
        assert result.returncode == 2, (name, result.stderr)
        assert name in result.stderr and result.stderr.strip().count("\n") == 0
    result = run_cli("start", "--pool", "p", "--limit", "0", env=env)
    assert result.returncode == 2 and "--limit" in result.stderr
    result = run_cli("start", env=env)
    assert result.returncode == 2 and "--pool" in result.stderr


def test_help_and_version():
    assert run_cli("--version").stdout.strip()
    help_text = run_cli("start", "--help").stdout
    for flag in ["--pool", "--work-queue", "--name", "--limit", "--prefetch-seconds", "--run-once"]:
        assert flag in help_text


def test_missing_pool_is_created_with_the_default_template_and_worker_is_online(api, start_worker):
    pool = f"new-{uuid.uuid4().hex[:8]}"
    start_worker(pool, "--name", "online-check")

    workers = wait_for(lambda: [w for w in api.workers(pool) if w["name"] == "online-check" and w["status"] == "ONLINE"],
                       30, "the worker to show ONLINE")
    assert workers[0]["heartbeat_interval_seconds"] == 2
    template = api.read_pool(pool)["base_job_template"]
    assert set(template["job_configuration"]) == {"command", "env", "labels", "name", "stream_output", "working_dir"}


def test_pool_with_empty_template_is_repaired(api, start_worker):
    pool = f"empty-{uuid.uuid4().hex[:8]}"
    api.create_pool(pool)  # created without a template: the server stores {}
    assert api.read_pool(pool)["base_job_template"] == {}
    start_worker(pool)
    wait_for(lambda: api.read_pool(pool)["base_job_template"].get("job_configuration"), 30, "the template repair")


def test_pool_of_another_type_is_refused(api, start_worker):
    pool = f"other-{uuid.uuid4().hex[:8]}"
    api.create_pool(pool, type="kubernetes")
    worker = start_worker(pool)
    assert worker.process.wait(timeout=30) == 1
    assert "type 'kubernetes', not 'process'" in worker.output()


def test_server_down_at_start_is_waited_for(tmp_path, start_worker):
    server = PrefectServer(tmp_path / "late-server", port=free_port())
    pool = f"late-{uuid.uuid4().hex[:8]}"
    worker = start_worker(pool, "--name", "patient", api_url=server.url)
    wait_for(lambda: "could not be reached" in worker.output(), 30, "the worker to report the server missing")
    assert worker.process.poll() is None
    try:
        server.start()
        from prefect_harness import PrefectAPI
        late_api = PrefectAPI(server.url)
        wait_for(lambda: any(w["name"] == "patient" and w["status"] == "ONLINE" for w in late_api.workers(pool)),
                 60, "the worker to register once the server is up")
    finally:
        worker.stop()
        server.stop()


def test_run_once_exits_after_its_runs(api, pool, start_worker):
    run_id = api.create_run(api.create_deployment(pool, job_variables={"command": "true"}))
    worker = start_worker(pool, "--run-once")
    assert worker.process.wait(timeout=60) == 0
    assert api.run(run_id)["state_type"] == "COMPLETED"


def test_basic_auth_server_accepts_the_auth_string_and_rejects_a_wrong_one(tmp_path, start_worker):
    server = PrefectServer(tmp_path / "auth-server", auth_string="admin:s3cret").start()
    try:
        from prefect_harness import PrefectAPI
        api = PrefectAPI(server.url, auth=("admin", "s3cret"))
        pool = f"auth-{uuid.uuid4().hex[:8]}"
        out = tmp_path / "auth-env.txt"
        api.create_pool(pool)
        deployment = api.create_deployment(
            pool, job_variables={"command": f"sh -c 'echo \"$PREFECT_API_AUTH_STRING\" > {out}'"})
        run_id = api.create_run(deployment)

        good = start_worker(pool, api_url=server.url, env={
            "PREFECT_API_AUTH_STRING": "admin:s3cret", "PREFECT_CLIENT_CUSTOM_HEADERS": '{"X-Team": "e2e"}',
            "PREFECT_WORKER_PASS_CREDENTIALS_TO_RUNS": "true"})
        assert api.wait_terminal(run_id)["state_type"] == "COMPLETED"
        assert out.read_text().strip() == "admin:s3cret", "an engine needs the auth string to talk to the server: passed when asked"

        bad = start_worker(pool, api_url=server.url, env={"PREFECT_API_AUTH_STRING": "admin:wrong"})
        assert bad.process.wait(timeout=30) == 1
        assert "401" in bad.output() and "Unauthorized" in bad.output()
        assert good.process.poll() is None

        # Credentials accepted once, then refused (the server's auth string was rotated): the
        # worker retries a few times, then exits 1 with one line naming the setting.
        server.stop()
        server.auth_string = "admin:rotated"
        server.start()
        assert good.process.wait(timeout=60) == 1
        last = good.output().strip().splitlines()[-1]
        assert last.startswith("prefect-worker: error: the Prefect server refused the worker's credentials 3 times in a row"), last
        assert "HTTP 401" in last and "PREFECT_API_AUTH_STRING" in last, last
    finally:
        server.stop()
