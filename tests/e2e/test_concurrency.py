"""--limit is never exceeded, and several workers on one pool run every run exactly once."""
import time

from prefect_harness import create_marked_runs, executions, wait_for


def intervals(directory):
    spans = []
    for path in directory.glob("*.span"):
        start, end = (int(value) for value in path.read_text().split())
        spans.append((start, end))
    return spans


def max_overlap(spans):
    events = sorted([(start, 1) for start, _ in spans] + [(end, -1) for _, end in spans])
    alive = peak = 0
    for _, delta in events:
        alive += delta
        peak = max(peak, alive)
    return peak


def test_limit_two_never_has_more_than_two_children_alive(api, pool, start_worker, tmp_path):
    spans = tmp_path / "spans"
    spans.mkdir()
    command = (f"sh -c 's=$(date +%s%N); sleep 1; "
               f"echo \"$s $(date +%s%N)\" > {spans}/$PREFECT__FLOW_RUN_ID.span'")
    deployment = api.create_deployment(pool, job_variables={"command": command})
    runs = [api.create_run(deployment) for _ in range(8)]
    start_worker(pool, "--limit", "2")

    for run_id in runs:
        assert api.wait_terminal(run_id, timeout=120)["state_type"] == "COMPLETED"

    measured = intervals(spans)
    assert len(measured) == 8
    assert max_overlap(measured) == 2, "at most two at once, and the limit is used"


def test_two_workers_on_one_pool_run_each_of_30_runs_exactly_once(api, pool, start_worker, tmp_path):
    markers = tmp_path / "markers"
    runs = create_marked_runs(api, pool, markers, 30)
    first = start_worker(pool, "--name", "exactly-once-a")
    second = start_worker(pool, "--name", "exactly-once-b")

    for run_id in runs:
        assert api.wait_terminal(run_id, timeout=180)["state_type"] == "COMPLETED"

    assert set(executions(markers, runs).values()) == {1}, executions(markers, runs)
    for run_id in runs:
        # One execution: one RUNNING. (A claim that lands on a run another worker already finished,
        # from a stale poll, shows up as a PENDING followed by the restored final state.)
        running = [state for state in api.history(run_id) if state["type"] == "RUNNING"]
        assert len(running) == 1, api.history(run_id)
    assert len(list(markers.iterdir())) == 30
    assert first.process.poll() is None and second.process.poll() is None
