"""prefect-worker against Prefect's own `prefect worker start --type process`: both workers on this
machine, against the same Prefect server, in one run, with the same settings (poll 2 s, prefetch
10 s, heartbeat 30 s). Prints and writes a report with each figure for both and the ratio.

Run it with `bench/run` (builds the release binary and the pinned Prefect venv first).
"""
from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
import random
import signal
import statistics
import subprocess
import sys
import time
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests" / "e2e"))
from prefect_harness import FLOWS_DIR, PrefectAPI, PrefectServer, process_gone, wait_for  # noqa: E402

SWIFT_BIN = Path(os.environ.get("PREFECT_WORKER_BIN", ROOT / ".build" / "release" / "prefect-worker"))
VENV_BIN = Path(sys.executable).parent
RESULTS = ROOT / "bench" / "results"
CLOCK_TICK = os.sysconf("SC_CLK_TCK")
KINDS = ("python", "swift")  # Prefect's worker first in every pair, so neither always goes first on a fresh pool
COMMON_ENV = {
    "PREFECT_WORKER_QUERY_SECONDS": "2",
    "PREFECT_WORKER_PREFETCH_SECONDS": "10",
    "PREFECT_WORKER_HEARTBEAT_SECONDS": "30",
    "PREFECT_LOGGING_LEVEL": "INFO",
}


# --- processes -------------------------------------------------------------------------------

def cpu_seconds(pid: int) -> float:
    """The process's own user + system CPU (children excluded)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / CLOCK_TICK


def thread_cpu_ns(pid: int) -> dict[int, int]:
    """Nanoseconds on CPU of each thread of the process now, from the scheduler."""
    times = {}
    for task in Path(f"/proc/{pid}/task").iterdir():
        try:
            times[int(task.name)] = int((task / "schedstat").read_text().split()[0])
        except (FileNotFoundError, ProcessLookupError, ValueError):
            pass  # a thread that ended meanwhile
    return times


def idle_cpu_seconds(pid: int, seconds: float, every: float = 0.2) -> float:
    """CPU time the process uses over `seconds`, in nanoseconds rather than 10 ms clock ticks (an
    idle worker uses about one tick a minute). Threads come and go (libdispatch retires idle
    workers), so every thread is sampled often and counted from its first to its last sample."""
    first = thread_cpu_ns(pid)
    last = dict(first)
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        time.sleep(every)
        for tid, ns in thread_cpu_ns(pid).items():
            first.setdefault(tid, 0)  # born in the window: all of its time counts
            last[tid] = ns
    return sum(last[tid] - first[tid] for tid in last) / 1e9


def binary_sizes_mb(path: Path) -> dict[str, float]:
    """The binary's file size and its loaded parts, as `size` (Berkeley format) counts them: text
    (code and read-only data, ICU's data included when it is linked), data and bss."""
    text, data, bss = (int(v) for v in subprocess.run(["size", "-B", str(path)], capture_output=True, text=True,
                                                       check=True).stdout.splitlines()[1].split()[:3])
    return {"binary_file_mb": path.stat().st_size / 1e6, "binary_text_mb": text / 1e6, "binary_data_mb": data / 1e6,
            "binary_bss_mb": bss / 1e6}


def memory_kb(pid: int) -> dict[str, int]:
    status = {line.split(":")[0]: int(line.split()[1]) for line in Path(f"/proc/{pid}/status").read_text().splitlines()
              if line.startswith(("VmRSS", "VmHWM", "RssAnon"))}
    rollup = {line.split(":")[0]: int(line.split()[1]) for line in Path(f"/proc/{pid}/smaps_rollup").read_text().splitlines()[1:]
              if line.split(":")[0] in ("Pss", "Private_Clean", "Private_Dirty")}
    return {"rss": status["VmRSS"], "hwm": status["VmHWM"], "anon": status["RssAnon"], "pss": rollup["Pss"],
            "uss": rollup["Private_Clean"] + rollup["Private_Dirty"]}


class BenchWorker:
    """One worker of either kind, its output in a log file."""

    def __init__(self, kind: str, api_url: str, pool: str, workdir: Path, limit: int | None = None, name: str | None = None,
                 extra_env: dict | None = None):
        self.kind = kind
        self.name = name or f"bench-{kind}-{uuid.uuid4().hex[:6]}"
        env = {k: v for k, v in os.environ.items() if not k.startswith(("PREFECT_", "NOTIFY_SOCKET", "JOURNAL_STREAM"))}
        env.update(COMMON_ENV, PREFECT_API_URL=api_url, PREFECT_HOME=str(workdir / f"home-{kind}"),
                   PREFECT_WORKER_STATE_DIR=str(workdir / f"state-{self.name}"))
        env.update(extra_env or {})
        limit_args = ["--limit", str(limit)] if limit else []
        if kind == "swift":
            command = [str(SWIFT_BIN), "start", "--pool", pool, "--name", self.name, "--python", sys.executable,
                       "--log-format", "json", *limit_args]
        else:
            command = [str(VENV_BIN / "prefect"), "worker", "start", "--pool", pool, "--type", "process",
                       "--name", self.name, *limit_args]
        self.log_path = workdir / f"{self.name}.log"
        self.log = open(self.log_path, "wb")
        self.started = time.monotonic()
        self.process = subprocess.Popen(command, env=env, stdout=self.log, stderr=subprocess.STDOUT, start_new_session=True)

    @property
    def pid(self) -> int:
        return self.process.pid

    def wait_online(self, api: PrefectAPI, pool: str, timeout: float = 60) -> float:
        """Seconds from process start until the pool lists this worker ONLINE."""
        def online():
            if self.process.poll() is not None:
                raise RuntimeError(f"{self.kind} worker exited: {self.log_path.read_text()[-2000:]}")
            return any(w["name"] == self.name and w.get("status") == "ONLINE" for w in api.workers(pool))
        wait_for(online, timeout, f"{self.kind} worker ONLINE", interval=0.02)
        return time.monotonic() - self.started

    def stop(self):
        if self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(timeout=60)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait(timeout=10)
        self.log.close()


def wait_or_none(condition, timeout: float, interval: float) -> float | None:
    """The monotonic time at which `condition` first held, or None after `timeout` s."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return time.monotonic()
        time.sleep(interval)
    return None


def wait_for_markers(markers: Path, count: int, started_wall: float, stall: float = 30, timeout: float = 1800) -> tuple[float, int]:
    """Waits until `count` marker files exist, or no new one came for `stall` s (a worker that lost
    runs never writes theirs). Returns (seconds from `started_wall` to the last marker written,
    how many exist)."""
    deadline, last, changed = time.monotonic() + timeout, -1, time.monotonic()
    while time.monotonic() < deadline:
        present = len(list(markers.iterdir()))
        if present >= count:
            break
        if present != last:
            last, changed = present, time.monotonic()
        elif time.monotonic() - changed > stall:
            break
        time.sleep(0.1)
    files = list(markers.iterdir())
    return (max(f.stat().st_mtime for f in files) - started_wall if files else float("nan")), len(files)


# --- scenarios -------------------------------------------------------------------------------

class Bench:
    def __init__(self, api: PrefectAPI, server_url: str, workdir: Path, quick: bool):
        self.api = api
        self.url = server_url
        self.workdir = workdir
        self.quick = quick

    def pool(self, kind: str) -> str:
        from prefect.workers.process import ProcessWorker
        name = f"bench-{kind}-{uuid.uuid4().hex[:8]}"
        self.api.create_pool(name, base_job_template=ProcessWorker.get_default_base_job_template())
        return name

    def markers(self) -> Path:
        path = self.workdir / f"markers-{uuid.uuid4().hex[:8]}"
        path.mkdir()
        return path

    def footprint(self, kind: str) -> dict:
        result = self.idle(kind, {})
        if kind == "swift":
            # The same with the event stream off: polling every 2 s, exactly as Prefect's worker does.
            polling = self.idle(kind, {"PREFECT_WORKER_EVENT_STREAM": "false"})
            result.update(binary_sizes_mb(SWIFT_BIN))
        else:
            polling = result  # Prefect's worker has no event stream: it always polls
        result.update({f"{k}_polling_only": v for k, v in polling.items() if k.startswith(("idle_rss", "idle_cpu"))})
        return result

    def idle(self, kind: str, extra_env: dict) -> dict:
        idle = 10 if self.quick else 60
        pool = self.pool(kind)
        worker = BenchWorker(kind, self.url, pool, self.workdir, extra_env=extra_env)
        try:
            online = worker.wait_online(self.api, pool)
            # Start-up work settles first: prefect-worker gives back its start-up pages 5 s after
            # it registers (StartupPages), and the pages its idle cycle needs fault back in after.
            time.sleep(10)
            cpu_idle = idle_cpu_seconds(worker.pid, idle)
            memory = memory_kb(worker.pid)
            return {"start_to_online_s": online, "idle_rss_mb": memory["rss"] / 1024, "idle_pss_mb": memory["pss"] / 1024,
                    "idle_anon_mb": memory["anon"] / 1024,
                    "idle_uss_mb": memory["uss"] / 1024, f"idle_cpu_s_per_{idle}s": cpu_idle}
        finally:
            worker.stop()

    def pickup(self, kind: str) -> dict:
        count = 5 if self.quick else 20
        pool, markers = self.pool(kind), self.markers()
        deployment = self.api.create_deployment(
            pool, job_variables={"command": f"sh -c 'date +%s.%N > {markers}/$PREFECT__FLOW_RUN_ID'"})
        worker = BenchWorker(kind, self.url, pool, self.workdir)
        latencies = []
        try:
            worker.wait_online(self.api, pool)
            for _ in range(count):
                time.sleep(random.uniform(0, 2))  # sample every phase of the 2 s poll
                created = time.time()
                run_id = self.api.create_run(deployment)
                marker = markers / run_id
                wait_for(lambda: marker.exists() and marker.read_text().strip(), 60, "the child to start", interval=0.01)
                latencies.append(float(marker.read_text()) - created)
        finally:
            worker.stop()
        latencies.sort()
        return {"pickup_median_s": statistics.median(latencies),
                "pickup_p90_s": latencies[min(len(latencies) - 1, int(round(0.9 * (len(latencies) - 1))))]}

    def burst(self, kind: str) -> dict:
        count = 50 if self.quick else 200
        pool, markers = self.pool(kind), self.markers()
        deployment = self.api.create_deployment(
            pool, job_variables={"command": f"sh -c 'echo ran >> {markers}/$PREFECT__FLOW_RUN_ID'"})
        runs = [self.api.create_run(deployment) for _ in range(count)]
        started_wall = time.time()
        worker = BenchWorker(kind, self.url, pool, self.workdir, limit=20)
        try:
            makespan, ran = wait_for_markers(markers, count, started_wall)
            cpu = cpu_seconds(worker.pid)
            peak = memory_kb(worker.pid)["hwm"] / 1024
            # Then give the worker a moment to report the last states.
            deadline = time.monotonic() + 30
            states: dict[str, int] = {}
            while time.monotonic() < deadline:
                states = {}
                for run_id in runs:
                    state = self.api.run(run_id)["state_type"]
                    states[state] = states.get(state, 0) + 1
                if states.get("COMPLETED", 0) == count:
                    break
                time.sleep(2)
        finally:
            worker.stop()
        ran_twice = sum(1 for run_id in runs if (markers / run_id).exists() and (markers / run_id).read_text().count("ran") > 1)
        return {f"burst{count}_makespan_s": makespan, f"burst{count}_ran": ran, f"burst{count}_worker_cpu_s": cpu, f"burst{count}_peak_rss_mb": peak,
                f"burst{count}_completed": states.get("COMPLETED", 0), f"burst{count}_crashed": states.get("CRASHED", 0),
                f"burst{count}_other_states": sum(v for k, v in states.items() if k not in ("COMPLETED", "CRASHED")),
                f"burst{count}_ran_twice": ran_twice}

    def real_flows(self, kind: str) -> dict:
        count = 5 if self.quick else 20
        pool = self.pool(kind)
        deployment = self.api.create_deployment(pool, parameters={"name": "bench"})
        runs = [self.api.create_run(deployment) for _ in range(count)]
        worker = BenchWorker(kind, self.url, pool, self.workdir, limit=5)
        try:
            started = time.monotonic()
            for run_id in runs:
                self.api.wait_terminal(run_id, timeout=900)
            makespan = time.monotonic() - started
        finally:
            worker.stop()
        completed = sum(1 for run_id in runs if self.api.run(run_id)["state_type"] == "COMPLETED")
        return {f"flows{count}_makespan_s": makespan, f"flows{count}_completed": completed}

    def cancellation(self, kind: str) -> dict:
        pool = self.pool(kind)
        pidfile = self.workdir / f"pid-{uuid.uuid4().hex[:8]}"
        plain = self.api.create_deployment(
            pool, job_variables={"command": f"sh -c 'echo $$ > {pidfile}; exec sleep 600'"})
        engine = self.api.create_deployment(
            pool, flow_name="sleepy", entrypoint="demo_flow.py:sleepy", parameters={"seconds": 600},
            job_variables={"env": {"STARTED_MARKER": str(pidfile)}})
        worker = BenchWorker(kind, self.url, pool, self.workdir)
        result = {}
        try:
            worker.wait_online(self.api, pool)
            for label, deployment in (("plain", plain), ("engine", engine)):
                pidfile.unlink(missing_ok=True)
                run_id = self.api.create_run(deployment)
                pid = int(wait_for(lambda: pidfile.exists() and pidfile.read_text().strip(), 120, "the child's pid", interval=0.05))
                if label == "engine":
                    wait_for(lambda: self.api.run(run_id)["state_type"] == "RUNNING", 60, "RUNNING", interval=0.1)
                cancelled_at = time.monotonic()
                self.api.cancel(run_id)
                gone = wait_or_none(lambda: process_gone(pid), 60, interval=0.01)
                done = wait_or_none(lambda: self.api.run(run_id)["state_type"] in ("CANCELLED", "CRASHED", "FAILED", "COMPLETED"),
                                    60, interval=0.05)
                # A worker that never gets there within 60 s is counted, not timed.
                if gone is not None:
                    result[f"cancel_{label}_process_gone_s"] = gone - cancelled_at
                if done is not None:
                    result[f"cancel_{label}_final_state_s"] = done - cancelled_at
                result[f"cancel_{label}_ended_cancelled"] = int(self.api.run(run_id)["state_type"] == "CANCELLED")
                result[f"cancel_{label}_left_running_60s"] = int(gone is None)
                if gone is None:
                    os.kill(pid, signal.SIGKILL)
        finally:
            worker.stop()
        return result

    def scale(self) -> dict:
        count = 200 if self.quick else 1000
        pool, markers = self.pool("swift"), self.markers()
        deployment = self.api.create_deployment(
            pool, job_variables={"command": f"sh -c 'echo ran >> {markers}/$PREFECT__FLOW_RUN_ID'"})
        runs = [self.api.create_run(deployment) for _ in range(count)]
        started_wall = time.time()
        workers = [BenchWorker("swift", self.url, pool, self.workdir, limit=10) for _ in range(3)]
        try:
            makespan, _ = wait_for_markers(markers, count, started_wall)
            for run_id in runs:
                self.api.wait_terminal(run_id, timeout=300)
        finally:
            for worker in workers:
                worker.stop()
        counts = [(markers / run_id).read_text().count("ran") if (markers / run_id).exists() else 0 for run_id in runs]
        completed = sum(1 for run_id in runs if self.api.run(run_id)["state_type"] == "COMPLETED")
        return {f"scale{count}_makespan_s": makespan, f"scale{count}_runs_per_s": count / makespan,
                f"scale{count}_exactly_once": sum(1 for c in counts if c == 1), f"scale{count}_completed": completed}


# --- report ----------------------------------------------------------------------------------

GOALS = {  # metric prefix -> goal on the ratio prefect-worker / Python worker
    "idle_rss_mb": "<= 1/15", "idle_pss_mb": "", "idle_anon_mb": "", "idle_uss_mb": "", "start_to_online_s": "<= 1/20",
    "idle_cpu_s": "<= 1/10", "pickup_median_s": "<= 1, and < 0.25 s with the event stream", "pickup_p90_s": "",
    "_worker_cpu_s": "<= 1/10", "binary_file_mb": "<= 48 MB (a third of 144 MB)", "_makespan_s": "<= 1/2 (burst)", "cancel_plain_process_gone_s": "< 1 s + grace needed",
}


def goal_for(metric: str) -> str:
    for prefix, goal in GOALS.items():
        if metric.startswith(prefix) or (prefix.startswith("_") and metric.endswith(prefix)):
            if prefix == "_makespan_s" and not metric.startswith("burst"):
                return ""
            return goal
    return ""


def summary(values: list[float]) -> dict:
    return {"min": min(values), "median": statistics.median(values), "max": max(values), "n": len(values)}


def render(results: dict) -> str:
    lines = [f"# prefect-worker benchmark, {results['date']}", "",
             f"Machine: {results['machine']}. Prefect {results['prefect_version']} server (SQLite) on 127.0.0.1, "
             f"both workers with poll 2 s, prefetch 10 s, heartbeat 30 s (prefect-worker with its event stream on, its "
             "default: then it polls every 30 s and is woken by the server's events; the `_polling_only` rows turn the "
             f"stream off); {results['repetitions']} repetition(s); "
             "figures are min / median / max; ratio = median of prefect-worker / median of Prefect's Python worker.", "",
             *([f"Measured: " + ", ".join(f"{k} {v}" for k, v in results["scenario_dates"].items()) + ".", ""]
               if len(set(results.get("scenario_dates", {}).values())) > 1 else []),
             "| Metric | prefect-worker | Python worker | Ratio | Goal |", "|---|---|---|---|---|"]
    fmt = lambda s: f"{s['min']:.3g} / {s['median']:.3g} / {s['max']:.3g}"
    for metric, by_kind in results["metrics"].items():
        swift, python = by_kind.get("swift"), by_kind.get("python")
        ratio = ""
        if swift and python and python["median"]:
            value = swift["median"] / python["median"]
            ratio = f"{value:.3f}" + (f" (1/{1 / value:.0f})" if 0 < value <= 0.5 else "")
        lines.append(f"| {metric} | {fmt(swift) if swift else '-'} | {fmt(python) if python else '-'} | {ratio} | {goal_for(metric)} |")
    return "\n".join(lines) + "\n"


def main():
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--reps", type=int, default=3, help="repetitions of each scenario (default 3)")
    parser.add_argument("--quick", action="store_true", help="smaller scenarios, 1 repetition: a smoke run")
    parser.add_argument("--only", nargs="*", default=None,
                        help="scenarios to run: footprint pickup burst real_flows cancellation scale")
    args = parser.parse_args()
    reps = 1 if args.quick else args.reps
    scenarios = args.only or ["footprint", "pickup", "burst", "real_flows", "cancellation", "scale"]
    workdir = RESULTS / "tmp" / dt.datetime.now().strftime("%Y%m%d-%H%M%S")
    workdir.mkdir(parents=True)
    if not SWIFT_BIN.exists():
        sys.exit(f"{SWIFT_BIN} is missing: run bench/run (it builds the release binary)")
    server = PrefectServer(workdir / "server").start()
    values: dict[str, dict[str, list[float]]] = {}
    try:
        bench = Bench(PrefectAPI(server.url), server.url, workdir, args.quick)
        for rep in range(reps):
            for scenario in scenarios:
                kinds = ("swift",) if scenario == "scale" else (KINDS if rep % 2 == 0 else tuple(reversed(KINDS)))
                for kind in kinds:
                    began = time.monotonic()
                    measured = bench.scale() if scenario == "scale" else getattr(bench, scenario)(kind)
                    print(f"rep {rep + 1}/{reps} {scenario:<12} {kind:<6} {time.monotonic() - began:6.1f}s "
                          + " ".join(f"{k}={v:.3g}" for k, v in measured.items()), flush=True)
                    for metric, value in measured.items():
                        values.setdefault(metric, {}).setdefault(kind, []).append(value)
    finally:
        server.stop()
    import prefect
    results = {
        "date": dt.datetime.now(dt.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
        "machine": f"{platform.node()}, {os.cpu_count()} cores, {platform.machine()}, Linux {platform.release()}",
        "prefect_version": prefect.__version__, "repetitions": reps, "quick": args.quick,
        "metrics": {metric: {kind: summary(v) for kind, v in by_kind.items()} for metric, by_kind in values.items()},
        "raw": values,
    }
    RESULTS.mkdir(exist_ok=True)
    stem = "quick" if args.quick else "latest"
    results["scenario_dates"] = {scenario: results["date"] for scenario in scenarios}
    previous_path = RESULTS / f"{stem}.json"
    if args.only and previous_path.exists():
        # A partial run replaces the figures of its scenarios and keeps the others, with their dates.
        previous = json.loads(previous_path.read_text())
        dates = previous.get("scenario_dates") or {s: previous["date"] for s in
                                                    ["footprint", "pickup", "burst", "real_flows", "cancellation", "scale"]}
        results["scenario_dates"] = {**dates, **results["scenario_dates"]}
        results["metrics"] = {**previous["metrics"], **results["metrics"]}
        results["raw"] = {**previous.get("raw", {}), **results["raw"]}
    (RESULTS / f"{stem}.json").write_text(json.dumps(results, indent=1))
    report = render(results)
    (RESULTS / f"{stem}.md").write_text(report)
    print(report)


if __name__ == "__main__":
    main()
