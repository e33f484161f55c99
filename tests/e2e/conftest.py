import os
import sys
import uuid
from pathlib import Path

import pytest

from prefect_harness import WORKER_BIN, PrefectAPI, PrefectServer, Worker


def pytest_configure(config):
    config.addinivalue_line(
        "markers", "serial: loads the machine (hundreds of runs) or measures sub-second latency; scripts/test runs "
                   "these alone, after the others have run in parallel processes")


@pytest.fixture(scope="session")
def server(tmp_path_factory):
    if not WORKER_BIN.exists():
        pytest.exit(f"{WORKER_BIN} is missing: run `swift build` first (scripts/test does)", returncode=1)
    # A run that cannot get its deployment's concurrency slot is rescheduled due at once instead
    # of 30 s later: what a worker does with a claim the server keeps refusing shows in seconds.
    instance = PrefectServer(tmp_path_factory.mktemp("prefect-server"), settings={
        "PREFECT_SERVER_DEPLOYMENTS_CONCURRENCY_SLOT_WAIT_SECONDS": "0"}).start()
    yield instance
    instance.stop()


@pytest.fixture(scope="session")
def topology(tmp_path_factory):
    """Prefect's production topology (prefect_topology.py), shared by the tests marked serial that use it."""
    from prefect_topology import ProductionTopology

    instance = ProductionTopology(tmp_path_factory.mktemp("topology")).start()
    yield instance
    instance.stop()


@pytest.fixture
def api(server):
    return PrefectAPI(server.url)


@pytest.fixture
def pool(api):
    """A fresh process pool with the default template, so tests never see each other's runs."""
    name = f"pool-{uuid.uuid4().hex[:10]}"
    api.create_pool(name, base_job_template=default_process_template())
    return name


def default_process_template():
    from prefect.workers.process import ProcessWorker

    return ProcessWorker.get_default_base_job_template()


@pytest.fixture
def start_worker(server, tmp_path):
    """Starts the real binary; every worker is stopped (SIGTERM, then SIGKILL) after the test."""
    started: list[Worker] = []

    def start(pool: str, *args: str, env: dict | None = None, api_url: str | None = None,
              journal_stream: bool = False, wrapper: tuple[str, ...] = (), python: str | None = sys.executable,
              cwd: Path | None = None, binary: Path = WORKER_BIN) -> Worker:
        worker = Worker(api_url or server.url, pool, *args, env=env, log_dir=tmp_path, journal_stream=journal_stream,
                        wrapper=wrapper, python=python, cwd=cwd, binary=binary)
        started.append(worker)
        return worker

    yield start
    for worker in started:
        worker.stop()


def pytest_runtest_makereport(item, call):
    """On failure, show the tail of every worker log of the test."""
    if call.when == "call" and call.excinfo is not None:
        for path in sorted(Path(item.funcargs.get("tmp_path", "/nonexistent")).glob("worker-*.log")) if "tmp_path" in item.funcargs else []:
            tail = path.read_text(errors="replace")[-4000:]
            item.add_report_section("call", path.name, tail)
