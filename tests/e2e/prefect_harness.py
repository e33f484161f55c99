"""A real Prefect server, a REST helper and the real prefect-worker binary, for end-to-end tests.

Everything runs on 127.0.0.1 with free ports; every wait has a deadline.
"""
from __future__ import annotations

import datetime as dt
import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
import uuid
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parents[2]
FLOWS_DIR = Path(__file__).resolve().parent / "flows"
WORKER_BIN = Path(os.environ.get("PREFECT_WORKER_BIN", ROOT / ".build" / "debug" / "prefect-worker"))
TERMINAL = {"COMPLETED", "FAILED", "CANCELLED", "CRASHED"}


_PORT_BLOCK = 1000
_next_port = iter(range(_PORT_BLOCK))


def free_port() -> int:
    """A port free on 127.0.0.1 now, from a block of its own for each pytest-xdist process (gw0 to
    gw7; another process, such as the serial phase or a benchmark, takes one of blocks 8 to 11 by
    its pid) below the kernel's ephemeral range (32768-): test processes running side by side do
    not pick the same port, and no client connection takes it between this call and the bind."""
    xdist = os.environ.get("PYTEST_XDIST_WORKER")
    block = int(xdist.removeprefix("gw")) % 8 if xdist else 8 + os.getpid() % 4
    first = 20000 + block * _PORT_BLOCK
    for offset in _next_port:
        with socket.socket() as sock:
            try:
                sock.bind(("127.0.0.1", first + offset))
            except OSError:
                continue
            return first + offset
    raise RuntimeError(f"no free port left in 127.0.0.1:{first}-{first + _PORT_BLOCK - 1}")


def wait_for(condition, timeout: float, what: str, interval: float = 0.2):
    """Polls `condition` until it returns something truthy; fails the test after `timeout` s."""
    deadline = time.monotonic() + timeout
    last = None
    while time.monotonic() < deadline:
        last = condition()
        if last:
            return last
        time.sleep(interval)
    raise AssertionError(f"timed out after {timeout} s waiting for {what} (last: {last!r})")


class PrefectServer:
    """`prefect server start` on a free port with its own PREFECT_HOME and SQLite database."""

    def __init__(self, home: Path, port: int | None = None, auth_string: str | None = None,
                 settings: dict[str, str] | None = None):
        self.home = home
        self.auth_string = auth_string
        self.settings = settings or {}
        self.port = port or free_port()
        self.url = f"http://127.0.0.1:{self.port}/api"
        self.process: subprocess.Popen | None = None
        self.log_path = home / "server.log"

    def start(self, wait: bool = True) -> "PrefectServer":
        self.home.mkdir(parents=True, exist_ok=True)
        env = dict(os.environ)
        env.update(
            PREFECT_HOME=str(self.home),
            PREFECT_API_DATABASE_CONNECTION_URL=f"sqlite+aiosqlite:///{self.home}/prefect.db",
            PREFECT_SERVER_ANALYTICS_ENABLED="false",
            PREFECT_SERVER_UI_ENABLED="false",
            PREFECT_LOGGING_LEVEL="WARNING",
            # Runs are marked Late after 10 minutes, not 15 s: on SQLite, Prefect's late-runs
            # service fails on a backlog older than that again and again ("database is locked",
            # each failure logged with a traceback), which doubled the time of the tests that queue
            # a few hundred runs (README, "Scaling out"). The same for any worker; the production
            # topology keeps the default.
            PREFECT_SERVER_SERVICES_LATE_RUNS_AFTER_SECONDS="600",
        )
        env.pop("PREFECT_API_URL", None)
        env.update(self.settings)
        if self.auth_string:
            env["PREFECT_SERVER_API_AUTH_STRING"] = self.auth_string
        log = open(self.log_path, "ab")
        self.process = subprocess.Popen(
            [str(Path(sys.executable).parent / "prefect"), "server", "start", "--host", "127.0.0.1",
             "--port", str(self.port)],
            env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
        )
        if wait:
            self.wait_healthy()
        return self

    def wait_healthy(self, timeout: float = 120):
        def healthy():
            if self.process.poll() is not None:
                raise AssertionError(f"prefect server exited: {self.log_path.read_text()[-2000:]}")
            try:
                return httpx.get(f"{self.url}/health", timeout=2).status_code == 200
            except httpx.HTTPError:
                return False
        wait_for(healthy, timeout, "the Prefect server to answer /health", interval=0.5)

    def stop(self):
        if self.process and self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait(timeout=10)


class PrefectAPI:
    """The few REST calls the tests need to set up pools, deployments and runs and read them back."""

    def __init__(self, url: str, auth: tuple[str, str] | None = None, csrf: bool = False):
        self.url = url
        self.http = httpx.Client(base_url=url, timeout=30, auth=auth)
        self.csrf_client = uuid.uuid4().hex if csrf else None

    def _csrf_headers(self, method: str) -> dict:
        """A server with CSRF protection wants a fresh token on every write."""
        if not self.csrf_client or method == "GET":
            return {}
        token = self.http.get("/csrf-token", params={"client": self.csrf_client}).json()["token"]
        return {"Prefect-Csrf-Token": token, "Prefect-Csrf-Client": self.csrf_client}

    def _call(self, method: str, path: str, **kwargs):
        for attempt in range(10):  # the SQLite server answers 503 under load; retry like a client
            response = self.http.request(method, path, headers=self._csrf_headers(method), **kwargs)
            if response.status_code not in (500, 502, 503):
                break
            time.sleep(0.2 * (attempt + 1))
        response.raise_for_status()
        return response.json() if response.content else None

    def create_pool(self, name: str, type: str = "process", base_job_template: dict | None = None) -> dict:
        body = {"name": name, "type": type}
        if base_job_template is not None:
            body["base_job_template"] = base_job_template
        return self._call("POST", "/work_pools/", json=body)

    def read_pool(self, name: str) -> dict:
        return self._call("GET", f"/work_pools/{name}")

    def update_pool_template(self, name: str, base_job_template: dict) -> None:
        self._call("PATCH", f"/work_pools/{name}", json={"base_job_template": base_job_template})

    def workers(self, pool: str) -> list[dict]:
        """The pool's workers; [] while the pool does not exist yet."""
        response = self.http.post(f"/work_pools/{pool}/workers/filter", json={}, headers=self._csrf_headers("POST"))
        return response.json() if response.status_code == 200 else []

    def create_deployment(self, pool: str, flow_name: str = "hello", entrypoint: str = "demo_flow.py:hello",
                          job_variables: dict | None = None, parameters: dict | None = None) -> str:
        flow_id = self._call("POST", "/flows/", json={"name": flow_name})["id"]
        body = {
            "name": f"dep-{uuid.uuid4().hex[:8]}",
            "flow_id": flow_id,
            "work_pool_name": pool,
            "entrypoint": entrypoint,
            "pull_steps": [{"prefect.deployments.steps.set_working_directory": {"directory": str(FLOWS_DIR)}}],
            "job_variables": job_variables or {},
            "parameters": parameters or {},
        }
        return self._call("POST", "/deployments/", json=body)["id"]

    def create_run(self, deployment_id: str, job_variables: dict | None = None,
                   scheduled_in: float | None = None) -> str:
        body: dict = {"job_variables": job_variables or {}}
        if scheduled_in is not None:
            when = dt.datetime.now(dt.timezone.utc) + dt.timedelta(seconds=scheduled_in)
            body["state"] = {"type": "SCHEDULED", "state_details": {"scheduled_time": when.isoformat()}}
        return self._call("POST", f"/deployments/{deployment_id}/create_flow_run", json=body)["id"]

    def create_variable(self, name: str, value) -> None:
        self._call("POST", "/variables/", json={"name": name, "value": value})

    def create_block(self, type_slug: str, name: str, data: dict) -> str:
        """A block document. A type the server does not register at start (3.8.8 registers
        `secret` but no longer `string` or `json`) is created first, as a user's own block type is."""
        found = self.http.get(f"/block_types/slug/{type_slug}")
        if found.status_code == 404:
            block_type = self._call("POST", "/block_types/", json={"name": f"Test {type_slug}", "slug": type_slug})
            self._call("POST", "/block_schemas/", json={
                "fields": {"title": type_slug, "type": "object", "properties": {}},
                "block_type_id": block_type["id"], "capabilities": []})
        else:
            block_type = found.json()
        schemas = self._call("POST", "/block_schemas/filter",
                             json={"block_schemas": {"block_type_id": {"any_": [block_type["id"]]}}})
        body = {"name": name, "data": data, "block_type_id": block_type["id"], "block_schema_id": schemas[0]["id"]}
        return self._call("POST", "/block_documents/", json=body)["id"]

    def cancel(self, run_id: str) -> dict:
        """What a user's "Cancel" does: propose CANCELLING."""
        return self._call("POST", f"/flow_runs/{run_id}/set_state", json={"state": {"type": "CANCELLING", "name": "Cancelling"}})

    def set_state(self, run_id: str, type: str, name: str, transition_id: str | None = None, force: bool = True):
        """Puts a run in a state (as a worker that died mid-way left it); `force` skips the server's rules."""
        state = {"type": type, "name": name, "state_details": {"transition_id": transition_id} if transition_id else {}}
        self._call("POST", f"/flow_runs/{run_id}/set_state", json={"state": state, "force": force})

    def delete_deployment(self, deployment_id: str):
        self._call("DELETE", f"/deployments/{deployment_id}")

    def run(self, run_id: str) -> dict:
        return self._call("GET", f"/flow_runs/{run_id}")

    def runs(self, run_ids: list[str]) -> list[dict]:
        """The runs with these ids (`POST /flow_runs/filter`, 200 at a time)."""
        found = []
        for start in range(0, len(run_ids), 200):
            body = {"flow_runs": {"id": {"any_": run_ids[start:start + 200]}}, "limit": 200}
            found += self._call("POST", "/flow_runs/filter", json=body)
        return found

    def logs(self, run_id: str) -> list[dict]:
        """The run's log lines as the UI shows them (`POST /logs/filter`)."""
        body = {"logs": {"flow_run_id": {"any_": [run_id]}}, "sort": "TIMESTAMP_ASC", "limit": 200}
        return self._call("POST", "/logs/filter", json=body)

    def history(self, run_id: str) -> list[dict]:
        states = self._call("GET", "/flow_run_states/", params={"flow_run_id": run_id})
        return sorted(states, key=lambda state: state["timestamp"])

    def wait_terminal(self, run_id: str, timeout: float = 90) -> dict:
        def terminal():
            run = self.run(run_id)
            return run if run["state_type"] in TERMINAL else None
        return wait_for(terminal, timeout, f"flow run {run_id} to reach a terminal state", interval=0.3)


def api_requests(metrics_port: int, route: str = "") -> float:
    """The Prefect API requests a worker made (every answer code) to routes containing `route`,
    from its /metrics."""
    text = httpx.get(f"http://127.0.0.1:{metrics_port}/metrics", timeout=5).text
    return sum(float(line.rsplit(" ", 1)[1]) for line in text.splitlines()
               if line.startswith("prefect_worker_api_requests_total{") and route in line)


def process_gone(pid: int) -> bool:
    """True when `pid` no longer runs (absent, or a zombie waiting to be reaped)."""
    try:
        with open(f"/proc/{pid}/stat") as handle:
            return handle.read().rsplit(")", 1)[1].split()[0] == "Z"
    except (FileNotFoundError, ProcessLookupError):  # reaped between the open and the read: ESRCH
        return True


def run_processes(run_id: str) -> list[int]:
    """Live processes whose environment carries the run's PREFECT__FLOW_RUN_ID."""
    marker = f"PREFECT__FLOW_RUN_ID={run_id}".encode()
    found = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit() or process_gone(int(entry)):
            continue
        try:
            with open(f"/proc/{entry}/environ", "rb") as handle:
                if marker in handle.read().split(b"\0"):
                    found.append(int(entry))
        except (FileNotFoundError, ProcessLookupError, PermissionError):
            continue
    return found


def create_marked_runs(api: "PrefectAPI", pool: str, markers: Path, count: int, then: str = "") -> list[str]:
    """`count` runs of a plain command that appends a line to `markers/<run id>` each time it runs
    (then runs `then`), so how often each run executed can be counted."""
    markers.mkdir()
    suffix = f"; {then}" if then else ""
    command = f"sh -c 'echo ran >> {markers}/$PREFECT__FLOW_RUN_ID{suffix}'"
    deployment = api.create_deployment(pool, job_variables={"command": command})
    return [api.create_run(deployment) for _ in range(count)]


def executions(markers: Path, run_ids: list[str]) -> dict[str, int]:
    """How many times each run's command ran, from its marker file."""
    return {run_id: (markers / run_id).read_text().count("ran") if (markers / run_id).exists() else 0
            for run_id in run_ids}


def read_pid(path: Path, timeout: float = 60) -> int:
    return int(wait_for(lambda: path.exists() and path.read_text().strip(), timeout, f"a pid in {path}"))


class Worker:
    """The real prefect-worker binary, its output in a log file."""

    def __init__(self, api_url: str, pool: str, *args: str, env: dict | None = None, log_dir: Path,
                 journal_stream: bool = False, wrapper: tuple[str, ...] = (), python: str | None = sys.executable,
                 cwd: Path | None = None, binary: Path = WORKER_BIN):
        self.api_url = api_url
        self.log_path = log_dir / f"worker-{uuid.uuid4().hex[:8]}.log"
        full_env = {k: v for k, v in os.environ.items() if k not in ("JOURNAL_STREAM", "NOTIFY_SOCKET", "WATCHDOG_USEC")}
        full_env.update(
            PREFECT_API_URL=api_url,
            PREFECT_WORKER_QUERY_SECONDS="1",
            PREFECT_WORKER_HEARTBEAT_SECONDS="2",
            PREFECT_HOME=str(log_dir / "prefect-home"),
            PREFECT_WORKER_STATE_DIR=str(log_dir / "worker-state"),
        )
        full_env.update(env or {})
        full_env = {k: v for k, v in full_env.items() if v is not None}  # None: unset it
        python_flag = ("--python", python) if python else ()
        self.command = [*wrapper, str(binary), "start", "--pool", pool, *python_flag, *args]
        self.log = open(self.log_path, "wb")
        if journal_stream:  # what systemd sets when it connects stderr to the journal
            status = os.fstat(self.log.fileno())
            full_env["JOURNAL_STREAM"] = f"{status.st_dev}:{status.st_ino}"
        self.process = subprocess.Popen(self.command, env=full_env, stdout=self.log, stderr=subprocess.STDOUT, cwd=cwd)

    def output(self) -> str:
        return self.log_path.read_text(errors="replace")

    def stop(self, timeout: float = 30) -> int:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=10)
        self.log.close()
        return self.process.returncode


JOURNAL_SOCKET = Path("/run/systemd/journal/socket")


def journal_entries(timeout: float = 60, **fields: str) -> list[dict]:
    """The journal's entries matching every FIELD=value, oldest first (`journalctl -o json --all`,
    so long fields are not elided)."""
    matches = [f"{name}={value}" for name, value in fields.items()]
    result = subprocess.run(
        ["journalctl", "--no-pager", "-o", "json", "--all", *matches],
        capture_output=True, text=True, timeout=timeout, check=True)
    return [json.loads(line) for line in result.stdout.splitlines() if line.strip()]


def journal_messages(timeout: float = 60, **fields: str) -> list[str]:
    """Just the MESSAGE of each matching entry (`-o cat`), for large counts."""
    matches = [f"{name}={value}" for name, value in fields.items()]
    result = subprocess.run(
        ["journalctl", "--no-pager", "-o", "cat", "--all", *matches],
        capture_output=True, text=True, timeout=timeout, check=True)
    return result.stdout.splitlines()


class NotifySocket:
    """A NOTIFY_SOCKET datagram socket, as systemd makes one for a Type=notify service: every
    message the worker sends is kept with the time it arrived."""

    def __init__(self, path: Path):
        self.path = str(path)
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self.sock.bind(self.path)
        self.sock.settimeout(0.2)
        self.messages: list[tuple[float, dict[str, str]]] = []
        self._lock = threading.Lock()
        self._stopped = threading.Event()
        self._thread = threading.Thread(target=self._receive, daemon=True)
        self._thread.start()

    def _receive(self):
        while not self._stopped.is_set():
            try:
                data = self.sock.recv(65536)
            except socket.timeout:
                continue
            fields = dict(line.split("=", 1) for line in data.decode().splitlines() if "=" in line)
            with self._lock:
                self.messages.append((time.monotonic(), fields))

    def received(self) -> list[tuple[float, dict[str, str]]]:
        with self._lock:
            return list(self.messages)

    def times_of(self, key: str, value: str | None = None) -> list[float]:
        return [at for at, fields in self.received() if key in fields and (value is None or fields[key] == value)]

    def close(self):
        self._stopped.set()
        self._thread.join(timeout=5)
        self.sock.close()
