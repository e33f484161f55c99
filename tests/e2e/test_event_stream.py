"""The server's event stream (`WS /events/out`) wakes the worker: a new run is claimed and a
cancel is acted on at once, not at the next poll. Every worker here polls only once a minute, so
anything that happens within seconds came through the stream."""
import time
import uuid

import httpx

from conftest import default_process_template
from prefect_harness import PrefectAPI, PrefectServer, api_requests, free_port, process_gone, read_pid, wait_for

SLOW_POLL = {"PREFECT_WORKER_QUERY_SECONDS": "60"}


def wait_subscribed(worker, timeout=30):
    wait_for(lambda: "subscribed to the event stream" in worker.output(), timeout, "the event stream subscription")


def test_a_new_run_starts_within_seconds_with_a_minute_between_polls(api, pool, start_worker, tmp_path):
    marker = tmp_path / "started"
    deployment = api.create_deployment(pool, job_variables={"command": f"sh -c 'date +%s.%N > {marker}'"})
    worker = start_worker(pool, env=SLOW_POLL)
    wait_subscribed(worker)
    time.sleep(1)  # past the poll that the subscription itself triggers

    created = time.time()
    run_id = api.create_run(deployment)
    wait_for(lambda: marker.exists() and marker.read_text().strip(), 15, "the child to start")
    assert float(marker.read_text()) - created < 10
    assert api.wait_terminal(run_id, timeout=30)["state_type"] == "COMPLETED"


def test_a_run_scheduled_ahead_is_claimed_when_it_comes_due_not_at_the_next_poll(api, pool, start_worker, tmp_path):
    """A poll looks as far ahead as the next poll and the worker wakes up when the earliest run it
    saw comes within the prefetch window: with a minute between polls, a run due in 12 s starts on time."""
    marker = tmp_path / "started"
    deployment = api.create_deployment(pool, job_variables={"command": f"sh -c 'date +%s.%N > {marker}'"})
    worker = start_worker(pool, "--prefetch-seconds", "2", env=SLOW_POLL)
    wait_subscribed(worker)
    time.sleep(1)

    created = time.time()
    run_id = api.create_run(deployment, scheduled_in=12)
    wait_for(lambda: marker.exists() and marker.read_text().strip(), 40, "the child to start")
    started = float(marker.read_text()) - created
    assert 9 <= started <= 25, f"started {started:.1f} s after creation, due at 12 s (prefetch 2 s)"
    assert api.wait_terminal(run_id, timeout=30)["state_type"] == "COMPLETED"


def test_a_cancel_stops_the_process_within_seconds_with_a_minute_between_polls(api, pool, start_worker, tmp_path):
    pidfile = tmp_path / "pid"
    deployment = api.create_deployment(pool, job_variables={"command": f"sh -c 'echo $$ > {pidfile}; exec sleep 300'"})
    run_id = api.create_run(deployment)
    worker = start_worker(pool, env=SLOW_POLL)  # the first poll at start claims the run
    wait_subscribed(worker)
    pid = read_pid(pidfile)
    wait_for(lambda: api.run(run_id)["state_type"] == "RUNNING", 30, "RUNNING")
    time.sleep(1)  # past the cancellation check that the subscription itself triggers

    cancelled = time.monotonic()
    api.cancel(run_id)
    wait_for(lambda: process_gone(pid), 15, "the process to be gone", interval=0.01)
    assert time.monotonic() - cancelled < 10
    run = api.wait_terminal(run_id, timeout=30)
    assert run["state_type"] == "CANCELLED", run["state"]


def test_the_stream_authenticates_and_comes_back_after_a_server_restart(tmp_path, start_worker):
    """With an auth string the stream authenticates by its auth frame; when the server restarts
    (a deploy), the failure is told once, the stream reconnects, and new runs start at once again."""
    server = PrefectServer(tmp_path / "events-server", auth_string="admin:ev3nts").start()
    try:
        api = PrefectAPI(server.url, auth=("admin", "ev3nts"))
        pool = f"events-{uuid.uuid4().hex[:8]}"
        api.create_pool(pool)
        markers = tmp_path / "markers"
        markers.mkdir()
        deployment = api.create_deployment(
            pool, job_variables={"command": f"sh -c 'date +%s.%N > {markers}/$PREFECT__FLOW_RUN_ID'"})
        worker = start_worker(pool, api_url=server.url, env={**SLOW_POLL, "PREFECT_API_AUTH_STRING": "admin:ev3nts"})

        def started_within_seconds():
            time.sleep(1)  # past the poll that a subscription itself triggers
            created = time.time()
            run_id = api.create_run(deployment)
            marker = markers / run_id
            wait_for(lambda: marker.exists() and marker.read_text().strip(), 15, "the child to start")
            assert float(marker.read_text()) - created < 10
            assert api.wait_terminal(run_id, timeout=30)["state_type"] == "COMPLETED"

        wait_subscribed(worker)
        started_within_seconds()
        assert "event stream unavailable" not in worker.output()

        server.stop()
        wait_for(lambda: "event stream unavailable" in worker.output(), 30, "the stream failure to be told")
        server.start()
        wait_for(lambda: worker.output().count("subscribed to the event stream") >= 2, 90, "a new subscription")
        started_within_seconds()
        assert worker.output().count("event stream unavailable") == 1, "only the first failure in a row is a warning"
    finally:
        server.stop()


def test_a_change_of_the_pool_is_read_at_once_and_the_heartbeats_do_not_read_it(api, pool, start_worker, tmp_path):
    """Prefect's worker reads its pool at every heartbeat. While subscribed, the pool's change
    comes as an event (`prefect.work-pool.updated`): the worker reads the pool then, and a run
    claimed right after renders the new template; the heartbeats in between read nothing."""
    port = free_port()
    worker = start_worker(pool, "--with-metrics", env={**SLOW_POLL, "PREFECT_WORKER_WEBSERVER_PORT": str(port)})
    wait_subscribed(worker)

    def count(route):
        return api_requests(port, f'route="{route}"')

    beats = count("POST /work_pools/{name}/workers/heartbeat")
    wait_for(lambda: count("POST /work_pools/{name}/workers/heartbeat") >= beats + 4, 30, "four heartbeats (2 s apart)")
    # One read to register, one when the stream was subscribed; none per heartbeat.
    assert count("GET /work_pools/{name}") == 2

    template = default_process_template()
    template["variables"]["properties"]["env"]["default"] = {"FROM_POOL": "changed"}
    api.update_pool_template(pool, template)
    wait_for(lambda: count("GET /work_pools/{name}") >= 3, 15, "the worker to read the changed pool")
    marker = tmp_path / "env"
    run_id = api.create_run(api.create_deployment(pool, job_variables={"command": f"sh -c 'echo $FROM_POOL > {marker}'"}))
    assert api.wait_terminal(run_id, timeout=30)["state_type"] == "COMPLETED"
    assert marker.read_text().strip() == "changed"


def test_without_the_stream_the_pool_is_read_at_every_heartbeat(api, pool, start_worker):
    port = free_port()
    start_worker(pool, "--with-metrics", env={"PREFECT_WORKER_EVENT_STREAM": "false", "PREFECT_WORKER_WEBSERVER_PORT": str(port)})
    wait_for(lambda: metrics_answer(port), 30, "the worker's /metrics")
    wait_for(lambda: api_requests(port, 'route="POST /work_pools/{name}/workers/heartbeat"') >= 4, 30, "four heartbeats")
    # As Prefect's worker: the read that registers, then one after every heartbeat but the first.
    wait_for(lambda: api_requests(port, 'route="GET /work_pools/{name}"') >= 4, 10, "a read of the pool per heartbeat")


def metrics_answer(port: int) -> bool:
    try:
        return httpx.get(f"http://127.0.0.1:{port}/metrics", timeout=5).status_code == 200
    except httpx.TransportError:
        return False


def test_without_the_stream_polling_alone_runs_the_flow(api, pool, start_worker, tmp_path):
    marker = tmp_path / "started"
    run_id = api.create_run(api.create_deployment(pool, job_variables={"command": f"touch {marker}"}))
    worker = start_worker(pool, env={"PREFECT_WORKER_EVENT_STREAM": "false"})
    assert api.wait_terminal(run_id, timeout=30)["state_type"] == "COMPLETED"
    assert "subscribed to the event stream" not in worker.output()


def test_the_workers_events_reach_the_event_feed(api, pool, start_worker, tmp_path):
    """prefect.worker.started, submitted-flow-run, executed-flow-run (with the pid and exit code,
    following the submission) and, after the stop, prefect.worker.stopped (following started)."""
    pidfile = tmp_path / "pid"
    run_id = api.create_run(api.create_deployment(pool, job_variables={"command": f"sh -c 'echo $$ > {pidfile}'"}))
    worker = start_worker(pool, "--name", f"Events Worker {run_id[:8]}")
    assert api.wait_terminal(run_id)["state_type"] == "COMPLETED"
    assert worker.stop() == 0
    resource = f"prefect.worker.process.events-worker-{run_id[:8]}"

    def events():
        body = {"filter": {"resource": {"id": [resource]}, "order": "ASC"}, "limit": 50}
        found = api._call("POST", "/events/filter", json=body)["events"]
        return found if {e["event"] for e in found} >= {"prefect.worker.started", "prefect.worker.submitted-flow-run",
                                                         "prefect.worker.executed-flow-run", "prefect.worker.stopped"} else None

    by_name = {e["event"]: e for e in wait_for(events, 30, "the worker's four events in the feed", interval=1)}
    executed = by_name["prefect.worker.executed-flow-run"]
    flow_run = next(r for r in executed["related"] if r["prefect.resource.role"] == "flow-run")
    assert flow_run["prefect.resource.id"] == f"prefect.flow-run.{run_id}"
    assert flow_run["prefect.infrastructure.identifier"] == pidfile.read_text().strip()
    assert flow_run["prefect.infrastructure.status-code"] == "0"
    assert executed["follows"] == by_name["prefect.worker.submitted-flow-run"]["id"]
    assert by_name["prefect.worker.stopped"]["follows"] == by_name["prefect.worker.started"]["id"]
    pool_id = api.read_pool(pool)["id"]
    assert {"prefect.resource.id": f"prefect.work-pool.{pool_id}", "prefect.resource.role": "work-pool",
            "prefect.resource.name": pool} in by_name["prefect.worker.started"]["related"]
