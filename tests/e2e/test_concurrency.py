"""--limit is never exceeded, several workers on one pool run every run exactly once, and a
deployment's concurrency limit holds runs back without crashing them or looping on claims."""
import uuid

from prefect_harness import api_requests, create_marked_runs, executions, free_port, wait_for

SET_STATE = 'route="POST /flow_runs/{id}/set_state"'


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


def limited_deployment(api, pool, command: str, strategy: str | None = None) -> str:
    """A deployment with `concurrency_limit: 1` (and a collision strategy)."""
    flow_id = api._call("POST", "/flows/", json={"name": "one-at-a-time"})["id"]
    body = {"name": f"limited-{uuid.uuid4().hex[:8]}", "flow_id": flow_id, "work_pool_name": pool,
            "concurrency_limit": 1, "job_variables": {"command": command}}
    if strategy:
        body["concurrency_options"] = {"collision_strategy": strategy}
    return api._call("POST", "/deployments/", json=body)["id"]


def test_a_deployment_limit_of_one_runs_three_runs_in_turn_handing_the_slot_on_at_once(api, pool, start_worker, tmp_path):
    # The session server leaves a refused run due at once (slot wait 0 s); the worker's pauses keep
    # it from a claim loop, and a run of the deployment ending here ends them.
    spans = tmp_path / "spans"
    spans.mkdir()
    command = f"sh -c 's=$(date +%s%N); sleep 7; echo \"$s $(date +%s%N)\" > {spans}/$PREFECT__FLOW_RUN_ID.span'"
    deployment = limited_deployment(api, pool, command)
    runs = [api.create_run(deployment) for _ in range(3)]
    port = free_port()
    start_worker(pool, "--limit", "3", "--with-metrics", env={"PREFECT_WORKER_WEBSERVER_PORT": str(port)})

    for run_id in runs:
        assert api.wait_terminal(run_id, timeout=120)["state_type"] == "COMPLETED"
    measured = sorted(intervals(spans))
    assert len(measured) == 3
    assert max_overlap(measured) == 1, "one at a time"
    # The next run starts when the slot frees, not when its pause (5 s, then 10 s) would end.
    gaps = [(later[0] - earlier[1]) / 1e9 for earlier, later in zip(measured, measured[1:])]
    assert all(gap < 3 for gap in gaps), gaps
    for run_id in runs:
        assert "CRASHED" not in {state["type"] for state in api.history(run_id)}
    # 3 x (claim + RUNNING + COMPLETED) and a few refused claims; a claim loop would make dozens.
    assert api_requests(port, SET_STATE) <= 20, api_requests(port, SET_STATE)


def test_cancel_new_cancels_the_run_that_finds_the_slot_taken_and_never_starts_it(api, pool, start_worker, tmp_path):
    markers = tmp_path / "markers"
    markers.mkdir()
    deployment = limited_deployment(
        api, pool, f"sh -c 'echo ran >> {markers}/$PREFECT__FLOW_RUN_ID; sleep 4'", strategy="CANCEL_NEW")
    first = api.create_run(deployment)
    start_worker(pool, "--limit", "2")
    wait_for(lambda: api.run(first)["state_type"] == "RUNNING", 30, "the first run to hold the slot")
    second = api.create_run(deployment)

    assert api.wait_terminal(second)["state_type"] == "CANCELLED"
    assert api.wait_terminal(first)["state_type"] == "COMPLETED"
    assert executions(markers, [first, second]) == {first: 1, second: 0}
    assert {state["type"] for state in api.history(second)} <= {"SCHEDULED", "CANCELLED"}, api.history(second)
