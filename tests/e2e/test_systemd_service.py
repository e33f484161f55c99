"""The worker as a systemd service: sd_notify over a real NOTIFY_SOCKET datagram socket (READY=1,
STATUS=, WATCHDOG=1 only while healthy, STOPPING=1 and EXTEND_TIMEOUT_USEC while draining),
the unit file, systemd credentials, and the worker's lines about a run in the Prefect UI."""
import re
import signal
import subprocess
import time
from pathlib import Path

from conftest import default_process_template
from prefect_harness import ROOT, WORKER_BIN, NotifySocket, PrefectAPI, PrefectServer, wait_for


def notify_env(sock: NotifySocket, watchdog_seconds: float = 3) -> dict:
    return {"NOTIFY_SOCKET": sock.path, "WATCHDOG_USEC": str(int(watchdog_seconds * 1_000_000))}


def test_ready_after_registering_watchdog_only_while_healthy_and_stopping_on_sigterm(tmp_path, start_worker):
    server = PrefectServer(tmp_path / "notify-server").start()
    sock = NotifySocket(tmp_path / "notify.sock")
    try:
        api = PrefectAPI(server.url)
        pool = "notify-pool"
        api.create_pool(pool, base_job_template=default_process_template())
        worker = start_worker(pool, "--name", "notified", api_url=server.url, env=notify_env(sock))

        ready_at = wait_for(lambda: sock.times_of("READY", "1"), 60, "READY=1")[0]
        assert "notified" in [w["name"] for w in api.workers(pool)], "READY=1 comes after the first heartbeat"
        assert not [t for t in sock.times_of("WATCHDOG") if t < ready_at], "no watchdog ping before READY=1"
        wait_for(lambda: len(sock.times_of("WATCHDOG", "1")) >= 4, 20, "watchdog pings while healthy")
        pings = sock.times_of("WATCHDOG", "1")
        gaps = [b - a for a, b in zip(pings, pings[1:])]
        assert max(gaps) < 3, f"a ping always within WATCHDOG_USEC (3 s): {gaps}"
        assert any("Serving pool 'notify-pool'" in fields.get("STATUS", "") for _, fields in sock.received())

        server.stop()
        stopped_at = time.monotonic()
        # Heartbeat 2 s and poll 1 s are stale after 10 s; then the pings must stop.
        wait_for(lambda: time.monotonic() - max(sock.times_of("WATCHDOG", "1")) > 6, 40, "the pings to stop")
        last_ping = max(sock.times_of("WATCHDOG", "1"))
        assert last_ping - stopped_at < 14, "pings stop within the staleness window"
        assert any("not answering" in fields.get("STATUS", "") for at, fields in sock.received() if at > stopped_at)

        server.start()
        wait_for(lambda: max(sock.times_of("WATCHDOG", "1")) > last_ping, 90, "the pings to resume with the server")

        worker.process.send_signal(signal.SIGTERM)
        assert worker.process.wait(timeout=30) == 0
        stopping = sock.times_of("STOPPING", "1")
        assert stopping, "STOPPING=1 on SIGTERM"
        assert worker.process.poll() is not None
    finally:
        sock.close()
        server.stop()


def test_a_drain_extends_the_stop_timeout_while_runs_finish(api, pool, start_worker, tmp_path):
    sock = NotifySocket(tmp_path / "notify.sock")
    try:
        run_id = api.create_run(api.create_deployment(pool, job_variables={"command": "sleep 4"}))
        worker = start_worker(pool, env=notify_env(sock, watchdog_seconds=10))
        wait_for(lambda: api.run(run_id)["state_type"] == "RUNNING", 30, "the run to be running")

        worker.process.send_signal(signal.SIGTERM)
        assert worker.process.wait(timeout=30) == 0
        assert api.run(run_id)["state_type"] == "COMPLETED"
        stopping_at = sock.times_of("STOPPING", "1")[0]
        extends = [(at, fields) for at, fields in sock.received() if "EXTEND_TIMEOUT_USEC" in fields]
        assert extends and all(at >= stopping_at for at, _ in extends)
        assert all(int(fields["EXTEND_TIMEOUT_USEC"]) >= 10_000_000 for _, fields in extends)
        assert any("waiting for 1 flow run(s)" in fields.get("STATUS", "") for _, fields in extends)
    finally:
        sock.close()


def test_flow_runs_do_not_inherit_the_service_managers_variables(api, pool, start_worker, tmp_path):
    sock = NotifySocket(tmp_path / "notify.sock")
    out = tmp_path / "child-env.txt"
    try:
        run_id = api.create_run(api.create_deployment(pool, job_variables={"command": f"sh -c 'env > {out}'"}))
        start_worker(pool, env=notify_env(sock), journal_stream=True)
        assert api.wait_terminal(run_id)["state_type"] == "COMPLETED"
        names = {line.split("=", 1)[0] for line in out.read_text().splitlines()}
        assert not names & {"NOTIFY_SOCKET", "WATCHDOG_USEC", "JOURNAL_STREAM"}
        assert "PREFECT__FLOW_RUN_ID" in names
    finally:
        sock.close()


def test_credentials_from_the_credentials_directory_authenticate_and_stay_out_of_runs(tmp_path, start_worker):
    server = PrefectServer(tmp_path / "cred-server", auth_string="admin:cred-s3cret").start()
    try:
        api = PrefectAPI(server.url, auth=("admin", "cred-s3cret"))
        pool = "cred-pool"
        api.create_pool(pool, base_job_template=default_process_template())
        out = tmp_path / "child-env.txt"
        run_id = api.create_run(api.create_deployment(pool, job_variables={"command": f"sh -c 'env > {out}'"}))
        credentials = tmp_path / "credentials"  # what LoadCredential=prefect-api-auth-string:... makes
        credentials.mkdir(mode=0o700)
        (credentials / "prefect-api-auth-string").write_text("admin:cred-s3cret\n")

        start_worker(pool, api_url=server.url, env={"CREDENTIALS_DIRECTORY": str(credentials)})

        assert api.wait_terminal(run_id)["state_type"] == "COMPLETED", "the worker authenticated with the credential"
        environment = out.read_text()
        assert "cred-s3cret" not in environment and "CREDENTIALS_DIRECTORY" not in environment
        assert f"PREFECT_API_URL={server.url}" in environment
    finally:
        server.stop()


def test_the_worker_tells_the_prefect_ui_what_happened_to_a_run(api, pool, start_worker):
    deployment = api.create_deployment(pool)
    crashed = api.create_run(deployment, job_variables={"command": "no-such-command-ui --x"})
    plain = api.create_run(deployment, job_variables={"command": "sh -c 'echo quiet-line'"})
    shown = api.create_run(deployment, job_variables={"command": "sh -c 'echo shown-in-ui; exit 4'", "output_to_api": True})
    start_worker(pool, "--name", "ui-worker")

    for run_id in (crashed, plain, shown):
        assert api.wait_terminal(run_id)["state_type"] in {"CRASHED", "COMPLETED", "FAILED"}

    def worker_lines(run_id, needle):
        lines = [log for log in api.logs(run_id) if log["name"] == "prefect.flow_runs.worker"]
        return lines if any(needle in log["message"] for log in lines) else None
    lines = wait_for(lambda: worker_lines(crashed, "could not start"), 20, "the crash reason in the run's logs")
    messages = [log["message"] for log in lines]
    assert "claimed flow run" in messages
    assert any("no-such-command-ui" in m and "not found" in m for m in messages)
    assert any(log["level"] == 40 for log in lines), "the crash is an error in the UI"

    lines = wait_for(lambda: worker_lines(plain, "exited with code 0"), 20, "the exit in the run's logs")
    assert any(m.startswith("started process") and "pid=" in m for m in (log["message"] for log in lines))
    assert not [log for log in api.logs(plain) if log["name"] == "prefect.flow_runs.output"], "output stays local by default"

    wait_for(lambda: [log for log in api.logs(shown) if log["message"] == "shown-in-ui"
                      and log["name"] == "prefect.flow_runs.output"], 20, "the output line in the UI (output_to_api)")


def test_the_unit_file_passes_systemd_analyze_verify(tmp_path):
    unit = (ROOT / "systemd" / "prefect-worker.service").read_text()
    assert "ExecStart=/usr/bin/prefect-worker " in unit
    # verify checks that ExecStart's binary exists: point it at the one just built (the installed
    # package's unit is verified by test_debian_package.py).
    (tmp_path / "prefect-worker.service").write_text(
        unit.replace("/usr/bin/prefect-worker", str(WORKER_BIN.resolve())))
    result = subprocess.run(
        ["systemd-analyze", "verify", str(tmp_path / "prefect-worker.service")],
        capture_output=True, text=True, timeout=60)
    assert result.returncode == 0 and result.stderr.strip() == "" and result.stdout.strip() == "", result
    for directive in ("Type=notify", "WatchdogSec=", "Restart=on-failure", "KillMode=mixed",
                      "EnvironmentFile=-/etc/prefect-worker/", "StateDirectory=", "RestartPreventExitStatus=2",
                      # Without a path: found in /etc/credstore/ when there, no error when not (systemd 252).
                      "LoadCredential=prefect-api-key\n", "LoadCredential=prefect-api-auth-string\n"):
        assert directive in unit
    assert "MemoryDenyWriteExecute" not in unit.replace("#   MemoryDenyWriteExecute", "")
    timeout_stop = int(next(l for l in unit.splitlines() if l.startswith("TimeoutStopSec=")).split("=")[1])
    assert timeout_stop > 300 + 30, "above the default drain + grace"


def test_the_example_environment_file_and_the_readme_document_every_setting():
    """Every environment variable the worker reads is in config/prefect-worker.env and the README."""
    sources = "\n".join(path.read_text() for path in (ROOT / "Sources").rglob("*.swift"))
    read = set(re.findall(r'"(PREFECT_(?:WORKER|API|CLIENT|LOGGING)_[A-Z_]+)"', sources))
    assert {"PREFECT_API_URL", "PREFECT_WORKER_LOG_FORMAT", "PREFECT_WORKER_OUTPUT_TO_API"} <= read
    env_file = (ROOT / "config" / "prefect-worker.env").read_text()
    readme = (ROOT / "README.md").read_text()
    assert not [name for name in read if name not in env_file], "undocumented in config/prefect-worker.env"
    assert not [name for name in read if f"`{name}`" not in readme], "undocumented in README.md"
