"""Prefect's production topology on this host, as Prefect documents it for several server
instances ("How to scale self-hosted Prefect"): PostgreSQL 15 (Debian's, `initdb` into a
temporary directory on its own port, no system service), Redis (`redis-server` from Debian) as
the messaging broker, cache, causal ordering and lease storage through `prefect-redis`, and
Docket on Redis; the database migrated once; N API processes (`prefect server start
--no-services`) on their own ports sharing the database; the background services once
(`prefect server services start`). No load balancer: each worker is pointed at one API process.

`scripts/setup-topology` installs what it needs (postgresql, redis-server, prefect-redis pinned to
a version that works with Prefect 3.8.8)."""
from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx

from prefect_harness import free_port, wait_for

POSTGRES_BIN = Path("/usr/lib/postgresql/15/bin")


class ProductionTopology:
    def __init__(self, home: Path, api_processes: int = 2):
        self.home = home
        self.api_ports = [free_port() for _ in range(api_processes)]
        self.urls = [f"http://127.0.0.1:{port}/api" for port in self.api_ports]
        self.pg_port = free_port()
        self.redis_port = free_port()
        # The postgres user must reach its data directory: not under a 0700 test directory.
        self.pg_data = Path(tempfile.mkdtemp(prefix="prefect-topology-pg-")) / "data"
        self.processes: list[tuple[str, subprocess.Popen]] = []

    # MARK: - Start and stop

    def start(self, timeout: float = 180) -> "ProductionTopology":
        try:
            return self._start(timeout)
        except BaseException:
            self.stop()  # nothing of a topology that did not come up is left running
            raise

    def _start(self, timeout: float) -> "ProductionTopology":
        self.home.mkdir(parents=True, exist_ok=True)
        self._start_postgres()
        self._start_redis()
        self._run_prefect(["server", "database", "upgrade", "-y"], "migrate", timeout=timeout)
        # One after another: API processes of 3.8.8 that start at the same moment race on
        # registering the block types in the shared database, and the loser exits
        # (UniqueViolationError on uq_block_type__slug).
        for index in range(len(self.api_ports)):
            self.start_api(index, timeout=timeout)
        self._spawn_prefect(["server", "services", "start"], "services")
        return self

    def stop(self):
        for _, process in reversed(self.processes):
            if process.poll() is None:
                os.killpg(process.pid, signal.SIGTERM)
        for name, process in reversed(self.processes):
            try:
                process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait(timeout=10)
        self.processes = []
        if (self.pg_data / "postmaster.pid").exists():
            self._as_postgres([str(POSTGRES_BIN / "pg_ctl"), "-D", str(self.pg_data), "-m", "fast", "-w", "stop"])
        shutil.rmtree(self.pg_data.parent, ignore_errors=True)

    def start_api(self, index: int, timeout: float = 120):
        port = self.api_ports[index]
        self._spawn_prefect(["server", "start", "--host", "127.0.0.1", "--port", str(port), "--no-services"], f"api-{port}")
        wait_for(lambda: self._healthy(self.urls[index]), timeout, f"the API process at {self.urls[index]}", interval=0.5)

    def stop_api(self, index: int):
        """Stops one API process (SIGTERM, as a rolling restart does); `start_api` starts it again."""
        name = f"api-{self.api_ports[index]}"
        for entry in [entry for entry in self.processes if entry[0] == name]:
            process = entry[1]
            if process.poll() is None:
                os.killpg(process.pid, signal.SIGTERM)
                process.wait(timeout=20)
            self.processes.remove(entry)

    # MARK: - The parts

    @property
    def database_url(self) -> str:
        return f"postgresql+asyncpg://prefect@127.0.0.1:{self.pg_port}/prefect"

    def environment(self) -> dict[str, str]:
        """Every Prefect process of the topology gets the same settings."""
        env = {k: v for k, v in os.environ.items() if not k.startswith("PREFECT_")}
        env.update(
            PREFECT_HOME=str(self.home / "prefect-home"),
            PREFECT_API_DATABASE_CONNECTION_URL=self.database_url,
            PREFECT_API_DATABASE_MIGRATE_ON_START="false",
            PREFECT_MESSAGING_BROKER="prefect_redis.messaging",
            PREFECT_MESSAGING_CACHE="prefect_redis.messaging",
            PREFECT_SERVER_EVENTS_CAUSAL_ORDERING="prefect_redis.ordering",
            PREFECT_SERVER_CONCURRENCY_LEASE_STORAGE="prefect_redis.lease_storage",
            PREFECT_REDIS_MESSAGING_HOST="127.0.0.1",
            PREFECT_REDIS_MESSAGING_PORT=str(self.redis_port),
            PREFECT_REDIS_MESSAGING_DB="0",
            PREFECT_SERVER_DOCKET_URL=f"redis://127.0.0.1:{self.redis_port}/1",
            PREFECT_SERVER_ANALYTICS_ENABLED="false",
            PREFECT_SERVER_UI_ENABLED="false",
            PREFECT_LOGGING_LEVEL="WARNING",
        )
        return env

    def _start_postgres(self):
        # initdb refuses root: the cluster belongs to the postgres user, as Debian's do.
        os.chmod(self.pg_data.parent, 0o755)
        self.pg_data.mkdir()
        shutil.chown(self.pg_data, user="postgres", group="postgres")
        self._as_postgres([str(POSTGRES_BIN / "initdb"), "-D", str(self.pg_data), "-U", "prefect", "--auth=trust",
                           "--encoding=UTF8", "--no-sync"])
        options = (f"-c listen_addresses=127.0.0.1 -p {self.pg_port} -k {self.pg_data} -c max_connections=300 "
                   "-c fsync=off -c synchronous_commit=off")
        self._as_postgres([str(POSTGRES_BIN / "pg_ctl"), "-D", str(self.pg_data), "-o", options, "-l",
                           str(self.pg_data / "server.log"), "-w", "start"])
        self._as_postgres([str(POSTGRES_BIN / "createdb"), "-h", "127.0.0.1", "-p", str(self.pg_port), "-U", "prefect", "prefect"])

    def _start_redis(self):
        log = open(self.home / "redis.log", "ab")
        process = subprocess.Popen(
            ["redis-server", "--bind", "127.0.0.1", "--port", str(self.redis_port), "--save", "", "--appendonly", "no",
             "--dir", str(self.home)],
            stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
        self.processes.append(("redis", process))

        def answers():
            result = subprocess.run(["redis-cli", "-p", str(self.redis_port), "ping"], capture_output=True, text=True)
            return result.stdout.strip() == "PONG"
        wait_for(answers, 30, "redis to answer PING", interval=0.2)

    def _prefect(self) -> str:
        return str(Path(sys.executable).parent / "prefect")

    def _run_prefect(self, arguments: list[str], name: str, timeout: float):
        with open(self.home / f"{name}.log", "ab") as log:
            subprocess.run([self._prefect(), *arguments], env=self.environment(), stdout=log, stderr=subprocess.STDOUT,
                           timeout=timeout, check=True)

    def _spawn_prefect(self, arguments: list[str], name: str):
        log = open(self.home / f"{name}.log", "ab")
        process = subprocess.Popen([self._prefect(), *arguments], env=self.environment(), stdout=log,
                                   stderr=subprocess.STDOUT, start_new_session=True)
        self.processes.append((name, process))

    def _healthy(self, url: str) -> bool:
        for name, process in self.processes:
            if process.poll() is not None:
                raise AssertionError(f"{name} exited: {(self.home / f'{name}.log').read_text()[-2000:]}")
        try:
            return httpx.get(f"{url}/health", timeout=2).status_code == 200
        except httpx.HTTPError:
            return False

    @staticmethod
    def _as_postgres(arguments: list[str]):
        command = arguments if os.getuid() != 0 else ["runuser", "-u", "postgres", "--", *arguments]
        subprocess.run(command, check=True, capture_output=True, timeout=120)


if __name__ == "__main__":
    # A quick look by hand: start it, print the URLs, stop after TOPOLOGY_SECONDS (an hour).
    topology = ProductionTopology(Path(tempfile.mkdtemp(prefix="prefect-topology-"))).start()
    print("API processes:", " ".join(topology.urls), flush=True)
    try:
        time.sleep(float(os.environ.get("TOPOLOGY_SECONDS", "3600")))
    finally:
        topology.stop()
