"""prefect-worker on Prefect's production topology (tests/e2e/prefect_topology.py: PostgreSQL 15, two
API processes, Redis, the background services once), against Prefect's own worker in the same run.

Scenario "scale": N workers of a kind (half pointed at each API process) x limit L run R short
runs (a plain command that writes a marker) created in bulk before the workers start: makespan,
runs/s, runs that ran exactly once, worker CPU per run, the worker's API requests per run (from
its own /metrics; Prefect's worker has none) and the topology's CPU per run. Scenario "chaos":
chaos_run.py over R runs (faults, kill -9, an API restart), prefect-worker only.

Run it with `bench/production` (builds the release binary, installs the topology's packages).
Results: bench/results/production.md and .json.
"""
from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests" / "e2e"))
sys.path.insert(0, str(ROOT / "bench"))
from bench import CLOCK_TICK, BenchWorker, cpu_seconds, memory_kb, wait_for_markers  # noqa: E402
from prefect_harness import PrefectAPI, api_requests, create_marked_runs, executions, free_port  # noqa: E402
from prefect_topology import ProductionTopology  # noqa: E402

RESULTS = ROOT / "bench" / "results"


def tree_cpu_seconds(root_pids: list[int]) -> float:
    """User + system CPU of these processes and every live descendant, plus what their reaped
    children used (cutime/cstime)."""
    children: dict[int, list[int]] = {}
    stats: dict[int, list[str]] = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                fields = Path(f"/proc/{entry}/stat").read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            stats[int(entry)] = fields
            children.setdefault(int(fields[1]), []).append(int(entry))
    total, queue, seen = 0, list(root_pids), set()
    while queue:
        pid = queue.pop()
        if pid in seen or pid not in stats:
            continue
        seen.add(pid)
        fields = stats[pid]
        total += sum(int(fields[i]) for i in (11, 12, 13, 14))
        queue.extend(children.get(pid, []))
    return total / CLOCK_TICK


def topology_pids(topology: ProductionTopology) -> list[int]:
    return [pid for pids in topology_components(topology).values() for pid in pids]


def topology_components(topology: ProductionTopology) -> dict[str, list[int]]:
    """The topology's processes by part: the API processes, the background services, Redis and
    PostgreSQL (its postmaster and every backend)."""
    parts: dict[str, list[int]] = {}
    for name, process in topology.processes:
        parts.setdefault("api" if name.startswith("api-") else name, []).append(process.pid)
    postmaster = topology.pg_data / "postmaster.pid"
    if postmaster.exists():
        parts["postgresql"] = [int(postmaster.read_text().split()[0])]
    return parts


def components_cpu_seconds(topology: ProductionTopology) -> dict[str, float]:
    return {part: tree_cpu_seconds(pids) for part, pids in topology_components(topology).items()}


def scale(topology: ProductionTopology, workdir: Path, kind: str, workers: int, limit: int, runs: int) -> dict:
    api = PrefectAPI(topology.urls[0])
    from conftest import default_process_template
    pool = f"scale-{kind}-{int(time.time())}"
    api.create_pool(pool, base_job_template=default_process_template())
    markers = workdir / f"markers-{pool}"
    began = time.monotonic()
    run_ids = create_marked_runs(api, pool, markers, runs)
    print(f"  created {runs} runs in {time.monotonic() - began:.0f} s", flush=True)
    ports = [free_port() for _ in range(workers)]
    server_cpu_before = tree_cpu_seconds(topology_pids(topology))
    parts_before = components_cpu_seconds(topology)
    started_wall = time.time()
    pool_workers = [
        BenchWorker(kind, topology.urls[index % 2], pool, workdir, limit=limit, extra_env=(
            {"PREFECT_WORKER_WITH_METRICS": "true", "PREFECT_WORKER_WEBSERVER_PORT": str(ports[index])} if kind == "swift" else {}))
        for index in range(workers)]
    try:
        makespan, present = wait_for_markers(markers, runs, started_wall, stall=60, timeout=7200)
        # Prefect's worker reports no final state for a plain command (its runs stay RUNNING):
        # only prefect-worker's runs are waited for.
        deadline = time.monotonic() + (600 if kind == "swift" else 0)
        left = list(run_ids)
        while left and time.monotonic() < deadline:
            left = [run["id"] for run in api.runs(left) if run["state_type"] not in ("COMPLETED", "FAILED", "CRASHED", "CANCELLED")]
            time.sleep(1)
        worker_cpu = sum(cpu_seconds(worker.pid) for worker in pool_workers)
        server_cpu = tree_cpu_seconds(topology_pids(topology)) - server_cpu_before
        parts_cpu = {part: seconds - parts_before.get(part, 0) for part, seconds in components_cpu_seconds(topology).items()}
        requests = sum(api_requests(port) for port in ports) if kind == "swift" else None
        by_route = requests_by_route(ports) if kind == "swift" else {}
        lost_claims = sum(metric(port, "prefect_worker_flow_run_claim_aborts_total") for port in ports) if kind == "swift" else None
        rss_mb = sum(memory_kb(worker.pid)["rss"] for worker in pool_workers) / 1024 / workers
    finally:
        for worker in pool_workers:
            worker.stop()
    ran = executions(markers, run_ids)
    completed = sum(1 for run in api.runs(run_ids) if run["state_type"] == "COMPLETED")
    result = {
        "makespan_s": makespan, "runs_per_s": runs / makespan, "exactly_once": sum(1 for n in ran.values() if n == 1),
        "ran_twice_or_more": sum(1 for n in ran.values() if n > 1), "completed": completed,
        "worker_cpu_ms_per_run": 1000 * worker_cpu / runs, "server_cpu_ms_per_run": 1000 * server_cpu / runs,
        "worker_rss_mb_each": rss_mb,
    }
    for part, seconds in sorted(parts_cpu.items()):
        result[f"server_cpu_ms_per_run {part}"] = 1000 * seconds / runs
    if lost_claims is not None:
        result["lost_claims_per_run"] = lost_claims / runs
    if requests is not None:
        result["api_requests_per_run"] = requests / runs
        for route, count in sorted(by_route.items(), key=lambda item: -item[1]):
            result[f"requests_per_run {route}"] = count / runs
    return result


def metric(port: int, name: str) -> float:
    """One unlabelled sample of a worker's /metrics (0 when absent)."""
    import httpx
    for line in httpx.get(f"http://127.0.0.1:{port}/metrics", timeout=5).text.splitlines():
        if line.startswith(name + " "):
            return float(line.rsplit(" ", 1)[1])
    return 0.0


def requests_by_route(ports: list[int]) -> dict[str, float]:
    """The workers' API requests (every answer code) per route, from their /metrics."""
    import httpx
    counts: dict[str, float] = {}
    for port in ports:
        for line in httpx.get(f"http://127.0.0.1:{port}/metrics", timeout=5).text.splitlines():
            if line.startswith("prefect_worker_api_requests_total{") and 'route="' in line:
                route = line.split('route="', 1)[1].split('"', 1)[0]
                counts[route] = counts.get(route, 0) + float(line.rsplit(" ", 1)[1])
    return counts


def chaos(topology: ProductionTopology, workdir: Path, runs: int, seed: int) -> dict:
    from chaos_run import run_chaos
    report = run_chaos(topology, workdir / f"chaos-{seed}", runs=runs, seed=seed, deadline_seconds=3600)
    print("  " + report.summary(), flush=True)
    # Growth over a worker process's life: the median of its last tenth of samples minus the median
    # of its second tenth to its first quarter (the first samples are taken while it starts up,
    # when most of its memory is not mapped yet). Processes sampled fewer than 40 times are skipped.
    def median(values: list[int]) -> float:
        ordered = sorted(values)
        return ordered[len(ordered) // 2]
    lives = {name: samples for name, samples in report.rss_kib.items() if len(samples) >= 40}
    growth = {name: median(samples[-max(1, len(samples) // 10):]) - median(samples[len(samples) // 10: len(samples) // 4])
              for name, samples in lives.items()}
    return {
        "runs": runs, "seconds": report.seconds, "not_terminal": len(report.not_terminal),
        "ran_twice_or_more": sum(n for times, n in report.executions.items() if times > 1),
        "completed_not_once": len(report.completed_not_once), "processes_left": len(report.left_processes),
        "kills": report.kills, "api_restarts": report.api_restarts, "faults": sum(report.faults.values()),
        "requests": report.requests, "states": report.states,
        "worker_rss_growth_kib_max": max(growth.values()) if growth else None,
        "worker_processes_sampled_40_times": len(lives),
        "worker_rss_kib_longest_life": (lambda name: {"process": name, "samples": len(lives[name]), "first": lives[name][0],
                                                      "peak": max(lives[name]), "last": lives[name][-1]})(
            max(lives, key=lambda name: len(lives[name]))) if lives else None,
    }


def render(results: dict) -> str:
    lines = [f"# prefect-worker on Prefect's production topology, {results['date']}", "",
             f"Machine: {results['machine']}. Prefect {results['prefect_version']}: PostgreSQL 15, two API processes, "
             "Redis (prefect-redis), the background services once, all on this machine. Workers spread over both API "
             "processes; ratio = prefect-worker / Prefect's worker.", ""]
    if "scale" in results:
        config = results["scale_config"]
        lines += [f"## Scale: {config['workers']} workers x limit {config['limit']}, {config['runs']} plain-command runs",
                  "", f"Measured {results.get('scale_date', results['date'])}.", "",
                  "| Metric | prefect-worker | Prefect's worker | Ratio |", "|---|---|---|---|"]
        swift, python = results["scale"].get("swift", {}), results["scale"].get("python", {})
        for metric in [*swift, *(key for key in python if key not in swift)]:
            s, p = swift.get(metric), python.get(metric)
            ratio = f"{s / p:.3f}" if isinstance(s, (int, float)) and isinstance(p, (int, float)) and p else ""
            fmt = lambda v: "-" if v is None else (f"{v:.3g}" if isinstance(v, float) else str(v))
            lines.append(f"| {metric} | {fmt(s)} | {fmt(p)} | {ratio} |")
        lines.append("")
    if "chaos" in results:
        lines += ["## Chaos", "", f"Measured {results.get('chaos_date', results['date'])}.", "", "| Figure | Value |", "|---|---|"]
        lines += [f"| {key} | {value} |" for key, value in results["chaos"].items()]
        lines.append("")
    return "\n".join(lines)


def main():
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--only", nargs="*", default=["scale", "chaos"], help="scale chaos")
    parser.add_argument("--runs", type=int, default=5000, help="runs of the scale scenario (default 5000)")
    parser.add_argument("--workers", type=int, default=10)
    parser.add_argument("--limit", type=int, default=20)
    parser.add_argument("--kinds", nargs="*", default=["python", "swift"])
    parser.add_argument("--chaos-runs", type=int, default=1000)
    parser.add_argument("--seed", type=int, default=20261130)
    args = parser.parse_args()
    workdir = RESULTS / "tmp" / ("production-" + dt.datetime.now().strftime("%Y%m%d-%H%M%S"))
    workdir.mkdir(parents=True)
    topology = ProductionTopology(workdir / "topology").start()
    import prefect
    results = {
        "date": dt.datetime.now(dt.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
        "machine": f"{platform.node()}, {os.cpu_count()} cores, {platform.machine()}, Linux {platform.release()}",
        "prefect_version": prefect.__version__,
    }
    try:
        if "scale" in args.only:
            results["scale_config"] = {"workers": args.workers, "limit": args.limit, "runs": args.runs}
            results["scale"] = {}
            for kind in args.kinds:
                print(f"scale {kind}: {args.workers} workers x limit {args.limit}, {args.runs} runs", flush=True)
                results["scale"][kind] = scale(topology, workdir, kind, args.workers, args.limit, args.runs)
                print("  " + json.dumps(results["scale"][kind]), flush=True)
        if "chaos" in args.only:
            print(f"chaos: {args.chaos_runs} runs, seed {args.seed}", flush=True)
            results["chaos"] = chaos(topology, workdir, args.chaos_runs, args.seed)
    finally:
        topology.stop()
    RESULTS.mkdir(exist_ok=True)
    # A scenario not run now keeps its earlier figures, each with the date it was measured.
    path = RESULTS / "production.json"
    previous = json.loads(path.read_text()) if path.exists() else {}
    for scenario in ("scale", "chaos"):
        if scenario in previous and f"{scenario}_date" not in previous:
            previous[f"{scenario}_date"] = previous["date"]
        if scenario in results:
            results[f"{scenario}_date"] = results["date"]
    results = {**previous, **results}
    path.write_text(json.dumps(results, indent=1))
    (RESULTS / "production.md").write_text(render(results))
    print(render(results))


if __name__ == "__main__":
    main()
