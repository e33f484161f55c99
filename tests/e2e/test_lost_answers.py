"""Answers lost between the worker and the server (chaos_proxy.py with one scripted fault each):
a RUNNING proposal that the server took and whose answer was cut still starts the run, and a
claim given up after its timeout that reaches the server late is undone."""
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
