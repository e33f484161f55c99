"""Answers lost between the worker and the server (chaos_proxy.py with one scripted fault each):
a RUNNING proposal that the server took and whose answer was cut still starts the run, and a
claim given up after its timeout that reaches the server late is undone, as is a held RUNNING
that lands after its worker was killed, by the worker's next start; a hand-back whose answer was
lost is read back, not sent again."""
from chaos_proxy import ChaosProxy, FaultRates
from prefect_harness import create_marked_runs, executions, wait_for


def set_state_of(state_type: str):
    return lambda request: b"/set_state" in request.split(b"\r\n", 1)[0] and f'"{state_type}"'.encode() in request


def test_a_running_proposal_whose_answer_was_cut_still_starts_the_run_once(server, api, pool, start_worker, tmp_path):
    proxy = ChaosProxy(server.port, FaultRates(), seed=1).start()
    try:
        # The server takes RUNNING; the worker sees a reset and proposes again with the same
        # transition id, which the server refuses as "already made this state transition".
        proxy.once(set_state_of("RUNNING"), "reset_after")
        run_id, = create_marked_runs(api, pool, tmp_path / "markers", 1)
        start_worker(pool, api_url=proxy.url)

        assert api.wait_terminal(run_id, timeout=60)["state_type"] == "COMPLETED"
        assert executions(tmp_path / "markers", [run_id]) == {run_id: 1}
        assert proxy.injected["reset_after"] == 1
    finally:
        proxy.stop()


def test_a_claim_given_up_that_reaches_the_server_late_is_undone(server, api, pool, start_worker, tmp_path):
    proxy = ChaosProxy(server.port, FaultRates(), seed=1).start()
    try:
        proxy.once(set_state_of("PENDING"), "stall", seconds=8)  # held past the 2 s request timeout
        run_id, = create_marked_runs(api, pool, tmp_path / "markers", 1)
        worker = start_worker(pool, api_url=proxy.url, env={"PREFECT_API_REQUEST_TIMEOUT": "2"})
        wait_for(lambda: proxy.injected["stall"] == 1, 30, "the worker's claim to be held")
        api.set_state(run_id, "COMPLETED", "Completed")  # meanwhile another worker ran it

        # The held claim reaches the server, which re-opens the finished run for it.
        wait_for(lambda: api.run(run_id)["state_type"] == "PENDING", 20, "the late claim to land", interval=0.1)
        assert "claim not answered" in worker.output()
        # The worker's second look, 30 s after it gave the claim up, puts the state back.
        wait_for(lambda: api.run(run_id)["state_type"] == "COMPLETED", 60, "the COMPLETED state to be put back")
        assert executions(tmp_path / "markers", [run_id]) == {run_id: 0}
    finally:
        proxy.stop()


def test_a_running_that_lands_after_the_worker_was_killed_is_undone_by_its_next_start(server, api, pool, start_worker, tmp_path):
    from test_restart_recovery import kill_hard
    proxy = ChaosProxy(server.port, FaultRates(), seed=1).start()
    try:
        # The first RUNNING is held past the 2 s request timeout; the worker proposes it again, the
        # run completes, and the worker is killed before the held RUNNING reaches the server, which
        # re-opens the finished run for it.
        proxy.once(set_state_of("RUNNING"), "stall", seconds=12)
        run_id, = create_marked_runs(api, pool, tmp_path / "markers", 1)
        env = {"PREFECT_API_REQUEST_TIMEOUT": "2"}
        first = start_worker(pool, "--name", "killed", api_url=proxy.url, env=env)
        assert api.wait_terminal(run_id, timeout=30)["state_type"] == "COMPLETED"
        kill_hard(first)
        assert proxy.injected["stall"] == 1

        start_worker(pool, "--name", "killed", api_url=proxy.url, env=env)
        wait_for(lambda: api.run(run_id)["state_type"] == "RUNNING", 20, "the held RUNNING to land", interval=0.1)

        # The restarted worker looks at the run again once the dead one's requests can no longer
        # land (30 s after its start), and puts the COMPLETED state back.
        run = api.wait_terminal(run_id, timeout=60)
        assert run["state_type"] == "COMPLETED", run["state"]
        assert executions(tmp_path / "markers", [run_id]) == {run_id: 1}
    finally:
        proxy.stop()


def test_a_hand_back_whose_answer_was_lost_is_not_sent_again_over_the_worker_that_took_the_run(
        server, api, pool, start_worker, tmp_path):
    import json
    import subprocess
    import time
    import uuid
    proxy = ChaosProxy(server.port, FaultRates(), seed=1).start()
    try:
        # A worker died right after the server took its claim (the ledger entry it leaves, written
        # here); its restart hands the run back, forced SCHEDULED. The server takes the hand-back
        # and its answer is lost; another worker may take the run at once. A resent hand-back
        # would be held 8 s and then take the run back from whoever took it (it ran twice so).
        proxy.once(set_state_of("SCHEDULED"), "reset_after")
        proxy.once(set_state_of("SCHEDULED"), "stall", seconds=8)
        run_id, = create_marked_runs(api, pool, tmp_path / "markers", 1, then="sleep 2")
        claim = str(uuid.uuid4())
        api.set_state(run_id, "PENDING", "Pending", transition_id=claim, force=False)
        ledger = tmp_path / "worker-state" / "pools" / pool / "runs"
        ledger.mkdir(parents=True)
        dead = subprocess.Popen(["true"])
        dead.wait()
        (ledger / f"{run_id}.{dead.pid}.json").write_text(json.dumps({
            "flowRunId": run_id, "flowRunName": "a-run", "workerName": "dead", "workerPid": dead.pid, "workerStartTime": 1,
            "phase": "claimed", "claimTransitionId": claim, "reporting": "worker", "updated": time.time()}))
        restarted = start_worker(pool, "--name", "restarted", api_url=proxy.url, env={"PREFECT_API_REQUEST_TIMEOUT": "5"})
        start_worker(pool, "--name", "other", env={"PREFECT_WORKER_STATE_DIR": str(tmp_path / "other-state")})

        wait_for(lambda: "proposed SCHEDULED: ACCEPT" in restarted.output(), 90, "the hand-back to be settled")
        assert proxy.injected["reset_after"] == 1
        assert proxy.injected["stall"] == 0, "the hand-back was sent again"
        assert api.wait_terminal(run_id, timeout=60)["state_type"] == "COMPLETED"
        assert executions(tmp_path / "markers", [run_id]) == {run_id: 1}
    finally:
        proxy.stop()
