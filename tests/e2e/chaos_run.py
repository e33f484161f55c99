"""A chaos run on the production topology: workers reach the API processes only through fault-
injecting proxies (chaos_proxy.py), a supervisor loop kills random workers with SIGKILL and
restarts them at once with the same name and state directory (as systemd's Restart=always does),
and one API process is stopped and started again mid-run. The report says what a user cares
about: every run terminal, none run twice, none left PENDING/RUNNING, no process of a run left,
the workers' memory. Used by the CI test (200 runs) and the benchmark (1,000 runs).
"""
from __future__ import annotations

import random
import signal
import time
from dataclasses import dataclass, field
from pathlib import Path

from chaos_proxy import ChaosProxy, FaultRates
from conftest import default_process_template
from prefect_harness import TERMINAL, PrefectAPI, Worker, create_marked_runs, executions, run_processes
from prefect_topology import ProductionTopology


@dataclass
class ChaosReport:
    runs: int
    seconds: float
    states: dict[str, int]
    executions: dict[int, int]          # how many runs ran 0, 1, 2... times
    not_terminal: list[str]
    completed_not_once: list[str]       # COMPLETED, yet its command did not run exactly once
    left_processes: list[int]
    kills: int
    api_restarts: int
    faults: dict[str, int]
    requests: int
    rss_kib: dict[str, list[int]] = field(default_factory=dict)  # per worker name, sampled over its life
    # For the first runs left non-final: their state history and every worker log line naming them,
    # so that a failure in CI (where only the tail of the logs shows) can be read.
    stories: dict[str, list[str]] = field(default_factory=dict)

    def summary(self) -> str:
        text = (f"{self.runs} runs in {self.seconds:.0f} s: states {self.states}, executions {self.executions}, "
                f"{self.kills} kills, {self.api_restarts} API restarts, {self.requests} requests with faults "
                f"{self.faults}; not terminal {self.not_terminal[:5]}; COMPLETED but not run once {self.completed_not_once[:5]}; "
                f"processes left {self.left_processes[:5]}")
        for run_id, lines in self.stories.items():
            text += f"\n--- {run_id}:\n" + "\n".join(lines)
        return text


def story(api: PrefectAPI, home: Path, run_id: str) -> list[str]:
    """A run's state history, then the worker log lines that name it, in time order."""
    lines = [f"state {state['timestamp'][11:23]} {state['type']} {state['name']!r} {state.get('message') or ''}"[:300]
             for state in api.history(run_id)]
    logged = [(line[14:40], f"{path.name}: {line.strip()}"[:600])
              for path in sorted(home.glob("worker-*.log"))
              for line in path.read_text(errors="replace").splitlines() if run_id in line]
    return lines + [line for _, line in sorted(logged)]


class SupervisedWorker:
    """One prefect-worker under a supervisor: same name and state directory on every start."""

    def __init__(self, index: int, pool: str, api_url: str, home: Path, limit: int):
        self.name = f"chaos-{index}"
        self.arguments = (pool, "--limit", str(limit), "--name", self.name)
        self.api_url = api_url
        self.home = home
        self.worker: Worker | None = None
        self.starts = 0

    def start(self):
        self.starts += 1
        self.worker = Worker(self.api_url, *self.arguments, log_dir=self.home, env={
            "PREFECT_WORKER_STATE_DIR": str(self.home / f"state-{self.name}"),
            # A request the proxy holds is given up after 5 s, not Prefect's 60.
            "PREFECT_API_REQUEST_TIMEOUT": "5",
        })

    def kill_and_restart(self):
        self.worker.process.send_signal(signal.SIGKILL)
        self.worker.process.wait(timeout=10)
        self.worker.log.close()
        self.start()

    def rss_kib(self) -> int | None:
        try:
            for line in Path(f"/proc/{self.worker.process.pid}/status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    return int(line.split()[1])
        except OSError:
            return None
        return None


def run_chaos(topology: ProductionTopology, home: Path, runs: int, seed: int, workers: int = 4, limit: int = 10,
              rates: FaultRates = FaultRates(reset=0.02, hang=0.005, error=0.03, truncate=0.01, stall=0.01),
              kill_every: tuple[float, float] = (10, 20), deadline_seconds: float = 600,
              settle_seconds: float = 40) -> ChaosReport:
    home.mkdir(parents=True, exist_ok=True)
    chaos = random.Random(seed)
    api = PrefectAPI(topology.urls[0])
    pool = f"chaos-{seed}-{chaos.randrange(16 ** 8):08x}"
    api.create_pool(pool, base_job_template=default_process_template())
    markers = home / "markers"
    run_ids = create_marked_runs(api, pool, markers, runs, then="sleep 1")
    proxies = [ChaosProxy(port, rates, seed + index).start() for index, port in enumerate(topology.api_ports)]
    supervised = [SupervisedWorker(index, pool, proxies[index % len(proxies)].url, home, limit) for index in range(workers)]
    started = time.monotonic()
    kills = api_restarts = 0
    rss: dict[str, list[int]] = {}
    try:
        for worker in supervised:
            worker.start()
        next_kill = started + chaos.uniform(*kill_every)
        restart_api_at = runs // 3
        not_terminal = list(run_ids)
        while not_terminal and time.monotonic() - started < deadline_seconds:
            time.sleep(0.5)
            not_terminal = [run["id"] for run in api.runs(not_terminal) if run["state_type"] not in TERMINAL]
            if time.monotonic() >= next_kill:
                chaos.choice(supervised).kill_and_restart()
                kills += 1
                next_kill = time.monotonic() + chaos.uniform(*kill_every)
            if not api_restarts and runs - len(not_terminal) >= restart_api_at:
                topology.stop_api(1)
                time.sleep(chaos.uniform(3, 8))
                topology.start_api(1)
                api_restarts += 1
            for worker in supervised:
                if (sample := worker.rss_kib()) is not None:
                    rss.setdefault(f"{worker.name}#{worker.starts}", []).append(sample)
        seconds = time.monotonic() - started
        # The faults stop; the workers keep running while a request held or cut before can still
        # land (their late-attempt checks undo what such a request set), then every run must still
        # be final.
        for proxy in proxies:
            proxy.enabled = False
        time.sleep(settle_seconds)
        not_terminal = [run["id"] for run in api.runs(run_ids) if run["state_type"] not in TERMINAL]
    finally:
        for worker in supervised:
            worker.worker.stop()
        for proxy in proxies:
            proxy.stop()
    ran = executions(markers, run_ids)
    states: dict[str, int] = {}
    completed_not_once = []
    for run in api.runs(run_ids):
        states[run["state_type"]] = states.get(run["state_type"], 0) + 1
        if run["state_type"] == "COMPLETED" and ran[run["id"]] != 1:
            completed_not_once.append(run["id"])
    counts: dict[int, int] = {}
    for times in ran.values():
        counts[times] = counts.get(times, 0) + 1
    left = [pid for run_id in run_ids for pid in run_processes(run_id)]
    settle = time.monotonic() + 15  # a process that was ending when its run became final
    while left and time.monotonic() < settle:
        time.sleep(0.5)
        left = [pid for run_id in run_ids for pid in run_processes(run_id)]
    faults: dict[str, int] = {}
    for proxy in proxies:
        for fault, count in proxy.injected.items():
            faults[fault] = faults.get(fault, 0) + count
    return ChaosReport(
        runs=runs, seconds=seconds, states=states, executions=counts, not_terminal=not_terminal,
        completed_not_once=completed_not_once, left_processes=left, kills=kills,
        api_restarts=api_restarts, faults=faults, requests=sum(proxy.requests for proxy in proxies), rss_kib=rss,
        stories={run_id: story(api, home, run_id) for run_id in (not_terminal + completed_not_once)[:3]})
