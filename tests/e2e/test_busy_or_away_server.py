"""A server that is busy or away never costs a run or the worker: an engine that could not reach
the server before its flow started is handed back, not CRASHED; no engine is started while the
server is away; runs nobody can claim are not proposed in a loop (a deleted deployment's run is
CANCELLED); and a server answering 503 to everything for two minutes leaves the worker up."""
import datetime as dt
import signal
import sys
import time
import uuid

from conftest import default_process_template
from network_fixtures import FaultGateway
from prefect_harness import PrefectAPI, PrefectServer, free_port, process_gone, read_pid, run_processes, wait_for
from test_metrics import scrape

SET_STATE = 'route="POST /flow_runs/{id}/set_state"'


def requests_to(samples: dict[str, float], route_part: str = "") -> float:
    """Requests the worker made (every answer code), to routes containing `route_part`."""
    return sum(value for name, value in samples.items()
               if name.startswith("prefect_worker_api_requests_total{") and route_part in name)


def state_types(api: PrefectAPI, run_id: str) -> list[str]:
    return [state["type"] for state in api.history(run_id)]


def gated_engine_command(gate, started) -> str:
    """The Prefect engine, started only once `gate` exists; each start appends a line to `started`."""
    return (f"sh -c 'echo $$ >> {started}; while [ ! -e {gate} ]; do sleep 0.1; done; "
            f"exec {sys.executable} -m prefect.engine'")


def test_an_engine_that_could_not_reach_the_server_before_its_flow_started_is_handed_back(tmp_path, start_worker):
    server = PrefectServer(tmp_path / "handback-server").start()
    try:
        api = PrefectAPI(server.url)
        pool = "handback-pool"
        api.create_pool(pool, base_job_template=default_process_template())
        gate, started, marker = tmp_path / "gate", tmp_path / "engine-starts", tmp_path / "flow-ran"
        deployment = api.create_deployment(pool, job_variables={
            "command": gated_engine_command(gate, started), "env": {"MARKER_FILE": str(marker)}})
        run_id = api.create_run(deployment)
        worker = start_worker(pool, api_url=server.url)
        first_engine = read_pid(started)

        server.stop()
        stopped_at = time.monotonic()
        gate.touch()  # the engine goes on now, and its first call finds no server
        wait_for(lambda: process_gone(first_engine), 60, "the engine to give up on the missing server")
        time.sleep(max(0.0, 25 - (time.monotonic() - stopped_at)))  # the outage is the thing under test
        server.start()

        run = api.wait_terminal(run_id, timeout=180)
        assert run["state_type"] == "COMPLETED", run["state"]
        assert marker.read_text().split() == [run_id], "the flow's code ran exactly once"
        assert len(started.read_text().split()) == 2, "one engine gave up before the flow, one ran it"
        history = api.history(run_id)
        assert "CRASHED" not in [state["type"] for state in history]
        handed_back = [state for state in history
                       if state["type"] == "SCHEDULED" and "(hand-back 1 of 3)" in (state["message"] or "")]
        assert len(handed_back) == 1, [(state["type"], state["message"]) for state in history]
        assert "exited with code 1 before the flow started" in handed_back[0]["message"]
        assert worker.stop() == 0, "still up, and stops cleanly once the run is reported"
    finally:
        server.stop()


def test_no_engine_is_started_while_the_server_is_away(server, api, pool, start_worker, tmp_path):
    marker = tmp_path / "flow-ran"
    deployment = api.create_deployment(pool, job_variables={"env": {"MARKER_FILE": str(marker)}})
    run_id = api.create_run(deployment)
    with FaultGateway(server.port) as gateway:
        # The server goes away right after the claimed run's deployment was read, before its
        # process is due: the worker must wait for the server instead of starting an engine that
        # would fail on its first call.
        gateway.cut_after(lambda method, path: method == "POST" and "/deployments/filter" in path)
        worker = start_worker(pool, api_url=gateway.url)
        gateway.wait_cut(60)
        down_at = time.monotonic()
        assert api.run(run_id)["state_type"] == "PENDING"
        while time.monotonic() - down_at < 25:  # the outage is the thing under test
            assert not run_processes(run_id), "an engine was started while the server was away"
            time.sleep(0.5)
        gateway.come_up()

        run = api.wait_terminal(run_id, timeout=120)
        assert worker.stop() == 0, "still up, and stops cleanly once the run is reported"
    assert run["state_type"] == "COMPLETED", run["state"]
    assert marker.read_text().split() == [run_id]
    assert state_types(api, run_id) == ["SCHEDULED", "PENDING", "RUNNING", "COMPLETED"]
    assert worker.output().count('started process') == 1


def test_a_run_whose_deployment_was_deleted_is_cancelled_and_not_claimed_in_a_loop(api, pool, start_worker):
    deployment = api.create_deployment(pool, job_variables={"command": "true"})
    now = dt.datetime.now(dt.timezone.utc).isoformat()
    # A run waiting for a deployment concurrency slot is kept when its deployment is deleted.
    run_id = api._call("POST", f"/deployments/{deployment}/create_flow_run", json={"state": {
        "type": "SCHEDULED", "name": "AwaitingConcurrencySlot", "state_details": {"scheduled_time": now}}})["id"]
    api.delete_deployment(deployment)
    assert api.run(run_id)["state_type"] == "SCHEDULED"
    port = free_port()
    name = f"deleted-{uuid.uuid4().hex[:6]}"
    worker = start_worker(pool, "--with-metrics", "--name", name, env={"PREFECT_WORKER_WEBSERVER_PORT": str(port)})
    wait_for(lambda: "worker online" in worker.output(), 30, "the worker to be online")
    online_at = time.monotonic()

    run = api.wait_terminal(run_id, timeout=30)
    assert time.monotonic() - online_at < 2 * 30 + 5, "within two poll intervals"
    assert run["state_type"] == "CANCELLED"
    assert run["state"]["message"] == f"Deployment {deployment} no longer exists, cancelled run."

    before = scrape(port)
    time.sleep(30)  # the quiet period is the thing under test
    after = scrape(port)
    assert requests_to(after, SET_STATE) == requests_to(before, SET_STATE), "no more proposals for anything"
    # Heartbeats every 2 s (each followed by a pool read), polls every 30 s while the event stream
    # is up: about 30 + 2 requests; a claim loop would make hundreds.
    made = requests_to(after) - requests_to(before)
    assert made <= 45, made
    assert [w["status"] for w in api.workers(pool) if w["name"] == name] == ["ONLINE"]
    assert worker.process.poll() is None


def test_a_run_the_server_keeps_refusing_is_proposed_with_growing_pauses_and_crowds_nothing_out(
        api, pool, start_worker, tmp_path):
    # A deployment concurrency limit of 0: the server ABORTs every claim and the run stays due.
    flow_id = api._call("POST", "/flows/", json={"name": "deadlocked"})["id"]
    deadlocked = api._call("POST", "/deployments/", json={
        "name": f"deadlocked-{uuid.uuid4().hex[:6]}", "flow_id": flow_id, "work_pool_name": pool,
        "concurrency_limit": 1, "job_variables": {"command": "true"}})
    api._call("PATCH", f"/v2/concurrency_limits/{deadlocked['global_concurrency_limit']['id']}", json={"limit": 0})
    refused = api.create_run(deadlocked["id"])
    marker = tmp_path / "ran"
    good = api.create_run(api.create_deployment(pool, job_variables={"command": f"touch {marker}"}))
    port = free_port()
    # Without the event stream the worker polls every second: a loop would show at once.
    worker = start_worker(pool, "--with-metrics", "--limit", "1",
                          env={"PREFECT_WORKER_WEBSERVER_PORT": str(port), "PREFECT_WORKER_EVENT_STREAM": "false"})
    wait_for(lambda: "worker online" in worker.output(), 30, "the worker to be online")
    online_at = time.monotonic()

    # The refused run is the oldest, and the limit is 1: the other still runs.
    assert api.wait_terminal(good, timeout=30)["state_type"] == "COMPLETED"
    time.sleep(max(0.0, 40 - (time.monotonic() - online_at)))  # the period under test
    samples = scrape(port)
    # Pauses of 5, 10, 20 s: proposals at about 0, 5, 15 and 35 s, plus the good run's three.
    proposals = requests_to(samples, SET_STATE) - 3
    assert 3 <= proposals <= 5, proposals
    assert samples["prefect_worker_flow_run_claim_aborts_total"] == proposals
    polls = requests_to(samples, "get_scheduled_flow_runs")
    assert polls <= 45, f"one poll a second at most: {polls}"
    assert api.run(refused)["state_type"] == "SCHEDULED"
    assert worker.process.poll() is None


def test_a_run_waiting_for_its_deployments_concurrency_slot_is_proposed_with_growing_pauses(api, pool, start_worker):
    # Deployment concurrency 1, held by a long run: the server REJECTs every claim of a second run
    # and (with the session server's slot wait of 0 s) leaves it due at once, AwaitingConcurrencySlot.
    flow_id = api._call("POST", "/flows/", json={"name": "one-at-a-time"})["id"]
    deployment = api._call("POST", "/deployments/", json={
        "name": f"one-at-a-time-{uuid.uuid4().hex[:6]}", "flow_id": flow_id, "work_pool_name": pool,
        "concurrency_limit": 1, "job_variables": {"command": "sleep 300"}})["id"]
    holder = api.create_run(deployment)
    port = free_port()
    worker = start_worker(pool, "--with-metrics", "--limit", "2",
                          env={"PREFECT_WORKER_WEBSERVER_PORT": str(port), "PREFECT_WORKER_EVENT_STREAM": "false"})
    wait_for(lambda: api.run(holder)["state_type"] == "RUNNING", 30, "the slot's holder to run")
    waiting = api.create_run(deployment)
    created_at = time.monotonic()

    time.sleep(40)  # the period under test
    # Pauses of 5, 10, 20 s: proposals at about 0, 5, 15 and 35 s, plus the holder's PENDING and RUNNING.
    proposals = requests_to(scrape(port), SET_STATE) - 2
    assert 3 <= proposals <= 5, proposals
    run = api.run(waiting)
    assert (run["state_type"], run["state_name"]) == ("SCHEDULED", "AwaitingConcurrencySlot")
    assert time.monotonic() - created_at < 50

    for run_id in (waiting, holder):  # the waiting one first, or it would take the slot
        api.cancel(run_id)
        assert api.wait_terminal(run_id)["state_type"] == "CANCELLED"
    assert worker.process.poll() is None


def test_a_server_answering_503_for_two_minutes_does_not_end_the_worker(server, api, pool, start_worker, tmp_path):
    heartbeat = 2.0  # the harness's PREFECT_WORKER_HEARTBEAT_SECONDS
    started, finished = tmp_path / "started", tmp_path / "finished"
    run_id = api.create_run(api.create_deployment(pool, job_variables={
        "command": f"sh -c 'touch {started}; sleep 20; touch {finished}'"}))
    with FaultGateway(server.port) as gateway:
        busy = start_worker(pool, "--name", "busy", api_url=gateway.url)
        wait_for(started.exists, 60, "the run's process to start")

        # Everything but reading the pool answers 503: a worker that starts now registers, then
        # its first heartbeat is refused for the whole two minutes (once, this ended the worker
        # after about 90 s of retries).
        gateway.answer_503(lambda method, path: not (method == "GET" and path.endswith(f"/work_pools/{pool}")))
        busy_from = time.monotonic()
        late = start_worker(pool, "--name", "late", api_url=gateway.url)
        wait_for(finished.exists, 60, "the run's process to finish during the outage")
        while time.monotonic() - busy_from < 120:  # two minutes of 503s are the thing under test
            assert busy.process.poll() is None and late.process.poll() is None, "a worker exited"
            time.sleep(1)
        assert api.run(run_id)["state_type"] == "RUNNING", "its end could not be reported yet"
        assert gateway.count("POST", "workers/heartbeat", since=busy_from + 60, outcome=503) >= 10, "still heartbeating"
        gateway.pass_through()
        back_at = time.monotonic()

        def heartbeats_taken():
            return [at for at, method, path, outcome in gateway.requests()
                    if at >= back_at and path.endswith("/workers/heartbeat") and outcome and 200 <= outcome < 300]

        wait_for(lambda: len(heartbeats_taken()) >= 2,
                 heartbeat + 2, "both workers' heartbeats within one period (and a little) of the server's return")
        assert api.wait_terminal(run_id, timeout=45)["state_type"] == "COMPLETED"
        names = {w["name"]: w["status"] for w in api.workers(pool)}
        assert names.get("busy") == "ONLINE" and names.get("late") == "ONLINE", names
        assert busy.stop() == 0 and late.stop() == 0


def test_a_stop_while_the_server_is_away_is_prompt(server, api, pool, start_worker):
    with FaultGateway(server.port) as gateway:
        worker = start_worker(pool, api_url=gateway.url)
        wait_for(lambda: "worker online" in worker.output(), 30, "the worker to be online")
        gateway.go_down()
        wait_for(lambda: "could not be reached" in worker.output(), 30, "the worker to notice")

        stop_at = time.monotonic()
        worker.process.send_signal(signal.SIGTERM)
        assert worker.process.wait(timeout=30) == 0
    # Nothing in flight: only the last events wait, at most 5 s (a connect is not waited for).
    assert time.monotonic() - stop_at < 8, time.monotonic() - stop_at
    assert "worker stopped" in worker.output()
