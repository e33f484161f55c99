"""Drop-in on a user's existing Prefect setup: settings from Prefect's own files, credentials for
engine runs in a private per-run profile, a CSRF-protected server, Prefect's flags, the right Python."""
import json
import os
import re
import stat
import subprocess
import sys
import threading
import time
import uuid
from pathlib import Path

import httpx
import pytest

from prefect_harness import (WORKER_BIN, PrefectAPI, PrefectServer, free_port, run_processes, wait_for)
from test_metrics import scrape

VENV_BIN = Path(os.path.abspath(sys.executable)).parent


def prefect_cli(*args: str, home: Path, cwd: Path | None = None) -> str:
    env = {k: v for k, v in os.environ.items() if not k.startswith("PREFECT_")}
    env["PREFECT_HOME"] = str(home)
    done = subprocess.run([str(VENV_BIN / "prefect"), *args], env=env, cwd=cwd, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    return done.stdout


def marker_deployment(api: PrefectAPI, pool: str, marker: Path) -> str:
    return api.create_deployment(pool, job_variables={"command": f"sh -c 'echo $PREFECT__FLOW_RUN_ID >> {marker}'"})


def test_settings_come_from_prefects_profile_dotenv_and_prefect_toml(api, pool, server, start_worker, tmp_path):
    """No PREFECT_* variable: the URL comes from the profile `prefect config set` wrote, then from
    `.env` and `prefect.toml` in the working directory; `config show` names where each came from."""
    home = tmp_path / "prefect-home"
    prefect_cli("config", "set", f"PREFECT_API_URL={server.url}", "PREFECT_WORKER_QUERY_SECONDS=1", home=home)
    marker = tmp_path / "marker"
    deployment = marker_deployment(api, pool, marker)
    bare = {"PREFECT_API_URL": None, "PREFECT_WORKER_QUERY_SECONDS": None, "PREFECT_HOME": str(home)}

    run_id = api.create_run(deployment)
    worker = start_worker(pool, env=bare)
    assert api.wait_terminal(run_id)["state_type"] == "COMPLETED", worker.output()
    assert worker.stop() == 0

    shown = subprocess.run([str(WORKER_BIN), "config", "show", "--pool", pool], env={**os.environ, **{"PREFECT_HOME": str(home)}} | {
        "PREFECT_API_URL": ""}, capture_output=True, text=True, timeout=30, cwd=tmp_path)
    assert shown.returncode == 0, shown.stderr
    assert f'api_url = "{server.url}"  # {home}/profiles.toml line ' in shown.stdout, shown.stdout
    assert '(profile "ephemeral")' in shown.stdout
    assert re.search(r'^query_seconds = 1 .*profiles.toml line \d+ \(profile "ephemeral"\)$', shown.stdout, re.M), shown.stdout

    # .env beats prefect.toml beats the profile (an empty profile here); both in the working directory.
    other_home = tmp_path / "empty-home"
    cwd = tmp_path / "project"
    cwd.mkdir()
    (cwd / "prefect.toml").write_text('[api]\nurl = "http://127.0.0.1:9/api"\n')
    (cwd / ".env").write_text(f"PREFECT_API_URL={server.url}\n")
    run_id = api.create_run(deployment)
    worker = start_worker(pool, env={**bare, "PREFECT_HOME": str(other_home)}, cwd=cwd)
    assert api.wait_terminal(run_id)["state_type"] == "COMPLETED", worker.output()
    assert worker.stop() == 0

    (cwd / ".env").unlink()
    (cwd / "prefect.toml").write_text(f'[api]\nurl = "{server.url}"\n[worker]\nquery_seconds = 1\n')
    run_id = api.create_run(deployment)
    worker = start_worker(pool, env={**bare, "PREFECT_HOME": str(other_home)}, cwd=cwd)
    assert api.wait_terminal(run_id)["state_type"] == "COMPLETED", worker.output()
    assert worker.stop() == 0
    assert len(marker.read_text().split()) == 3

    # A malformed profiles file: one line naming the file and the line, exit 2.
    (home / "profiles.toml").write_text('active = "x"\n[profiles.x]\nPREFECT_API_URL = http://oops\n')
    broken = start_worker(pool, env=bare)
    assert broken.process.wait(timeout=30) == 2
    last = broken.output().strip().splitlines()[-1]
    assert last.startswith(f"prefect-worker: error: {home}/profiles.toml line 3: "), last


@pytest.fixture(scope="module")
def auth_server(tmp_path_factory):
    """One server with basic auth for this module's credential tests."""
    server = PrefectServer(tmp_path_factory.mktemp("auth-server"), auth_string="admin:s3cret").start()
    yield server, PrefectAPI(server.url, auth=("admin", "s3cret"))
    server.stop()


def test_an_engine_run_on_a_basic_auth_server_gets_credentials_only_in_a_private_profile(auth_server, tmp_path, start_worker):
    """Default settings: the engine reaches the server with the worker's auth string, which is in no
    process's environment; the profile file is 0600 in a 0700 directory and gone after the run; a
    plain command gets no credentials; `always` puts them in the environment, `never` nowhere."""
    server, api = auth_server
    pool = f"auth-{uuid.uuid4().hex[:8]}"
    api.create_pool(pool)
    runtime = tmp_path / "runtime"
    runtime.mkdir(mode=0o700)
    started = tmp_path / "started"
    engine = api.create_deployment(pool, flow_name="sleepy", entrypoint="demo_flow.py:sleepy", parameters={"seconds": 4},
                                   job_variables={"env": {"STARTED_MARKER": str(started)}})
    secrets = {"PREFECT_API_AUTH_STRING": "admin:s3cret", "PREFECT_CLIENT_CUSTOM_HEADERS": '{"X-Team": "hdr-s3cret"}',
               "XDG_RUNTIME_DIR": str(runtime)}
    worker = start_worker(pool, api_url=server.url, env=secrets)

    run_id = api.create_run(engine)
    wait_for(lambda: started.exists(), 90, "the engine flow to start")
    profiles = list(runtime.glob("prefect-worker-run-*/profiles.toml"))
    assert len(profiles) == 1, profiles
    assert stat.S_IMODE(profiles[0].stat().st_mode) == 0o600
    assert stat.S_IMODE(profiles[0].parent.stat().st_mode) == 0o700
    text = profiles[0].read_text()
    assert 'PREFECT_API_AUTH_STRING = "admin:s3cret"' in text and "hdr-s3cret" in text
    pids = run_processes(run_id)
    assert pids, "the run's processes"
    for pid in pids:
        environ = open(f"/proc/{pid}/environ", "rb").read()
        assert b"s3cret" not in environ, pid
        assert f"PREFECT_PROFILES_PATH={profiles[0]}".encode() in environ
    assert api.wait_terminal(run_id)["state_type"] == "COMPLETED", worker.output()
    wait_for(lambda: not list(runtime.glob("prefect-worker-run-*")), 10, "the profile directory to be removed")

    # A plain command: no credentials, no profile.
    out = tmp_path / "plain-env"
    plain = api.create_deployment(pool, job_variables={"command": f"sh -c 'env > {out}'"})
    run_id = api.create_run(plain)
    assert api.wait_terminal(run_id)["state_type"] == "COMPLETED"
    seen = out.read_text()
    assert "s3cret" not in seen and "PREFECT_PROFILES_PATH" not in seen
    worker.stop()

    start_worker(pool, api_url=server.url, env={**secrets, "PREFECT_WORKER_PASS_CREDENTIALS_TO_RUNS": "always"})
    run_id = api.create_run(plain)
    assert api.wait_terminal(run_id)["state_type"] == "COMPLETED"
    assert "PREFECT_API_AUTH_STRING=admin:s3cret" in out.read_text(), "always: in the environment, as Prefect does"
    assert not list(runtime.glob("prefect-worker-run-*"))


def test_never_passes_no_credentials_and_the_engine_run_fails_for_it(auth_server, start_worker):
    server, api = auth_server
    pool = f"never-{uuid.uuid4().hex[:8]}"
    api.create_pool(pool)
    worker = start_worker(pool, api_url=server.url, env={
        "PREFECT_API_AUTH_STRING": "admin:s3cret", "PREFECT_WORKER_PASS_CREDENTIALS_TO_RUNS": "never"})
    run_id = api.create_run(api.create_deployment(pool))
    state = api.wait_terminal(run_id)
    # The engine cannot reach the server without the auth string: the run never starts, is
    # handed back, and after three hand-backs CRASHES.
    assert state["state_type"] == "CRASHED", state
    assert "pass_credentials_to_runs = never" in worker.output()


def test_a_csrf_protected_server_takes_every_write_and_tokens_are_refreshed_before_they_expire(tmp_path, start_worker):
    server = PrefectServer(tmp_path / "csrf-server", settings={
        "PREFECT_SERVER_CSRF_PROTECTION_ENABLED": "true", "PREFECT_SERVER_CSRF_TOKEN_EXPIRATION": "PT70S"}).start()
    try:
        api = PrefectAPI(server.url, csrf=True)
        pool = f"csrf-{uuid.uuid4().hex[:8]}"
        api.create_pool(pool)
        port = free_port()
        worker = start_worker(pool, "--with-metrics", api_url=server.url, env={"PREFECT_WORKER_WEBSERVER_PORT": str(port)})
        engine_run = api.create_run(api.create_deployment(pool))
        marker = tmp_path / "marker"
        plain_run = api.create_run(marker_deployment(api, pool, marker))
        assert api.wait_terminal(engine_run)["state_type"] == "COMPLETED", worker.output()
        assert api.wait_terminal(plain_run)["state_type"] == "COMPLETED", worker.output()
        # A token lives 70 s and is refreshed 60 s before: after 15 s of heartbeats (writes every
        # 2 s) the worker has fetched more than one, and no write was ever refused.
        time.sleep(15)
        samples = scrape(port)
        fetched = sum(v for k, v in samples.items() if k.startswith("prefect_worker_api_requests_total") and "/csrf-token" in k)
        refused = sum(v for k, v in samples.items() if k.startswith("prefect_worker_api_requests_total") and 'code="403"' in k)
        heartbeats = sum(v for k, v in samples.items() if k.startswith("prefect_worker_api_requests_total") and "heartbeat" in k and 'code="204"' in k)
        assert fetched >= 2, samples
        assert refused == 0, samples
        assert heartbeats >= 5
        assert worker.stop() == 0
    finally:
        server.stop()


def test_a_server_without_csrf_protection_is_asked_once(api, pool, start_worker, tmp_path):
    port = free_port()
    worker = start_worker(pool, "--with-metrics", env={"PREFECT_WORKER_WEBSERVER_PORT": str(port)})
    run_id = api.create_run(marker_deployment(api, pool, tmp_path / "marker"))
    assert api.wait_terminal(run_id)["state_type"] == "COMPLETED"
    samples = scrape(port)
    asked = {k: v for k, v in samples.items() if k.startswith("prefect_worker_api_requests_total") and "/csrf-token" in k}
    assert list(asked.values()) == [1.0] and 'code="422"' in next(iter(asked)), asked
    worker.stop()


def prefect_start_flags() -> list[str]:
    """Every flag of the pinned `prefect worker start --help`."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("PREFECT_")} | {"COLUMNS": "250"}
    text = subprocess.run([str(VENV_BIN / "prefect"), "worker", "start", "--help"], env=env, capture_output=True,
                          text=True, timeout=120).stdout
    return sorted(set(re.findall(r"(?<![\w-])(--?[a-z][a-z-]*)", text)) - {"--help", "-h"})


def test_every_flag_of_prefect_worker_start_is_accepted(api, server, tmp_path):
    """Starts the worker with each of the pinned Prefect's flags, with a value where it takes one;
    `--run-once` makes each start end after one poll."""
    flags = prefect_start_flags()
    for expected in ("-t", "--type", "--install-policy", "--base-job-template", "--empty-work-queue", "--no-run-once",
                     "--no-with-healthcheck", "--no-create-pool-if-not-found", "--profile", "--no-prompt", "-p", "-q", "-n", "-l"):
        assert expected in flags, (expected, flags)
    template = tmp_path / "template.json"
    from conftest import default_process_template
    template.write_text(json.dumps(default_process_template()))
    home = tmp_path / "home"
    prefect_cli("profile", "create", "other", home=home)
    values = {"--name": "flag-test", "-n": "flag-test", "--pool": None, "-p": None, "--work-queue": "default", "-q": "default",
              "--type": "process", "-t": "process", "--prefetch-seconds": "5", "--limit": "2", "-l": "2",
              "--install-policy": "if-not-present", "--base-job-template": str(template), "--profile": "other"}
    env = {**os.environ, "PREFECT_API_URL": server.url, "PREFECT_HOME": str(home),
           "PREFECT_WORKER_STATE_DIR": str(tmp_path / "state"), "PREFECT_WORKER_WEBSERVER_PORT": str(free_port())}
    pool = f"flags-{uuid.uuid4().hex[:8]}"
    api.create_pool(pool)
    for flag in flags:
        if flag in ("--pool", "-p"):
            args = [flag, pool]
        else:
            args = ["--pool", pool, flag] + ([values[flag]] if values.get(flag) else [])
        if flag != "--run-once":
            args.append("--run-once")
        if flag == "--no-run-once":
            args = args[:-1] + ["--exit-after-idle", "1"]
        done = subprocess.run([str(WORKER_BIN), "start", *args], env=env, capture_output=True, text=True, timeout=60)
        assert done.returncode == 0, (flag, done.stdout[-2000:], done.stderr[-2000:])


def test_base_job_template_creates_the_pool_with_it_and_is_ignored_with_a_warning_when_it_exists(api, server, start_worker, tmp_path):
    from conftest import default_process_template
    template = default_process_template()
    template["variables"]["properties"]["env"]["default"] = {"FROM_TEMPLATE": "yes"}
    path = tmp_path / "template.json"
    path.write_text(json.dumps(template))
    pool = f"tmpl-{uuid.uuid4().hex[:8]}"
    worker = start_worker(pool, "--base-job-template", str(path), "--run-once")
    assert worker.process.wait(timeout=60) == 0, worker.output()
    assert api.read_pool(pool)["base_job_template"]["variables"]["properties"]["env"]["default"] == {"FROM_TEMPLATE": "yes"}
    again = start_worker(pool, "--base-job-template", str(path), "--run-once")
    assert again.process.wait(timeout=60) == 0
    assert "base job template from --base-job-template is ignored" in again.output()
    path.write_text("{not json")
    bad = start_worker(pool, "--base-job-template", str(path))
    assert bad.process.wait(timeout=30) == 2
    assert f"--base-job-template names '{path}', which is not a JSON object" in bad.output()


def test_without_a_prefect_python_on_path_the_start_warns_and_engine_runs_crash_with_that_sentence(api, pool, start_worker, tmp_path):
    """No --python and a PATH whose `prefect` is missing: the worker falls back to python3 (the
    system's, without Prefect), says so once at start, and an engine run ends CRASHED with the same
    sentence; a plain command still runs. With the venv's bin on PATH, its Python is found."""
    marker = tmp_path / "marker"
    plain = api.create_run(marker_deployment(api, pool, marker))
    engine = api.create_run(api.create_deployment(pool))
    worker = start_worker(pool, python=None, env={"PATH": "/usr/bin:/bin"})
    assert api.wait_terminal(plain)["state_type"] == "COMPLETED"
    state = api.wait_terminal(engine)
    assert state["state_type"] == "CRASHED"
    sentence = "the Python 'python3' cannot import prefect ("
    assert sentence in (state["state"]["message"] or ""), state["state"]
    assert sentence in worker.output() and "set --python or PREFECT_WORKER_PYTHON" in worker.output()
    worker.stop()

    engine = api.create_run(api.create_deployment(pool))
    found = start_worker(pool, python=None, env={"PATH": f"{VENV_BIN}:/usr/bin:/bin"})
    assert api.wait_terminal(engine)["state_type"] == "COMPLETED", found.output()
    assert f'python={VENV_BIN}/python' in found.output() or f'"python":"{VENV_BIN}/python' in found.output(), found.output()[-3000:]


def test_health_stays_200_through_a_40_s_outage_while_ready_goes_503_and_comes_back(tmp_path, start_worker):
    server = PrefectServer(tmp_path / "blip-server").start()
    try:
        api = PrefectAPI(server.url)
        pool = f"blip-{uuid.uuid4().hex[:8]}"
        api.create_pool(pool)
        port = free_port()
        start_worker(pool, "--with-healthcheck", api_url=server.url, env={
            "PREFECT_WORKER_WEBSERVER_PORT": str(port), "PREFECT_WORKER_QUERY_SECONDS": "5", "PREFECT_WORKER_HEARTBEAT_SECONDS": "5"})

        def get(path: str) -> int:
            try:
                return httpx.get(f"http://127.0.0.1:{port}{path}", timeout=5).status_code
            except httpx.TransportError:
                return 0  # not listening yet
        wait_for(lambda: get("/health/ready") == 200, 60, "the worker to be ready")
        server.stop()
        down_at = time.monotonic()
        liveness = []
        wait_for(lambda: get("/health/ready") == 503, 30, "readiness to fail while the server is away")
        while time.monotonic() - down_at < 40:
            liveness.append(get("/health"))
            time.sleep(1)
        assert set(liveness) == {200}, liveness
        server.start()
        # A SQLite server that has just started answers writes 503 now and then for a while when
        # the machine is busy: the worker's interval is measured from the first write of the
        # server's last unbroken run of taken writes.
        def takes_a_write():
            try:
                return api.create_variable(f"probe-{uuid.uuid4().hex[:8]}", 1) or True
            except httpx.HTTPError:
                return False
        back_at, ready, deadline = None, False, time.monotonic() + 120
        while not ready and time.monotonic() < deadline:
            back_at = (back_at or time.monotonic()) if takes_a_write() else None
            ready = back_at is not None and get("/health/ready") == 200
            if not ready:
                time.sleep(0.5)
        assert ready, "readiness once the server is back"
        assert time.monotonic() - back_at < 15, "ready again within about one interval of the server's return"
    finally:
        server.stop()


def test_unpausing_a_pool_starts_a_waiting_run_within_the_query_interval_with_the_stream_on(api, pool, start_worker, tmp_path):
    marker = tmp_path / "marker"
    api._call("PATCH", f"/work_pools/{pool}", json={"is_paused": True})
    worker = start_worker(pool, env={"PREFECT_WORKER_QUERY_SECONDS": "5"})
    wait_for(lambda: "subscribed to the event stream" in worker.output(), 60, "the event stream")
    run_id = api.create_run(marker_deployment(api, pool, marker))
    time.sleep(3)
    assert api.run(run_id)["state_type"] == "SCHEDULED", "a paused pool hands out nothing"
    api._call("PATCH", f"/work_pools/{pool}", json={"is_paused": False})
    unpaused = time.monotonic()
    wait_for(lambda: marker.exists(), 30, "the waiting run to start")
    assert time.monotonic() - unpaused < 5, "within the query interval (the stream's poll interval is 30 s)"


def test_an_idle_worker_logs_no_warning_over_two_minutes(api, pool, start_worker):
    worker = start_worker(pool, env={"PREFECT_WORKER_HEARTBEAT_SECONDS": "5", "PREFECT_WORKER_QUERY_SECONDS": "5",
                                     "PREFECT_WORKER_LOG_FORMAT": "json"})
    wait_for(lambda: "worker online" in worker.output(), 60, "the worker to be online")
    time.sleep(120)
    assert worker.process.poll() is None
    loud = [line for line in worker.output().splitlines() if '"level":"warning"' in line or '"level":"error"' in line]
    assert loud == [], loud


def test_claimed_runs_get_the_workers_labels_and_a_failing_label_patch_costs_no_run(api, pool, server, start_worker, tmp_path):
    """As Prefect's worker: `prefect.worker.name`, `prefect.worker.type`, `prefect.work-pool.name`
    and `.id` on every claimed run. Behind a gateway that answers 503 to every label PATCH, runs
    still start at once and COMPLETE (Prefect's worker crashes them)."""
    from network_fixtures import FaultGateway

    marker = tmp_path / "marker"
    deployment = marker_deployment(api, pool, marker)
    run_id = api.create_run(deployment)
    worker = start_worker(pool, "--name", "labeller")
    assert api.wait_terminal(run_id)["state_type"] == "COMPLETED"
    pool_id = api.read_pool(pool)["id"]
    wanted = {"prefect.worker.name": "labeller", "prefect.worker.type": "process", "prefect.work-pool.name": pool,
              "prefect.work-pool.id": pool_id}
    wait_for(lambda: wanted.items() <= api.run(run_id)["labels"].items(), 30, "the worker's labels on the run")
    worker.stop()

    with FaultGateway(server.port) as gateway:
        gateway.answer_503(lambda method, path: method == "PATCH" and path.endswith("/labels"))
        runs = [api.create_run(deployment) for _ in range(3)]
        start_worker(pool, "--name", "unlabelled", api_url=gateway.url)
        for run in runs:
            assert api.wait_terminal(run, timeout=60)["state_type"] == "COMPLETED"
        assert gateway.count("PATCH", "/labels", outcome=503) >= 3
        assert "prefect.worker.name" not in api.run(runs[0])["labels"]
