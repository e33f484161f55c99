"""A worker runs real flow runs end to end: engine flows, plain commands, broken commands."""
import os

from prefect_harness import wait_for


def state_types(api, run_id):
    return [state["type"] for state in api.history(run_id)]


def test_engine_flow_completes(api, pool, start_worker):
    deployment = api.create_deployment(pool, parameters={"name": "e2e"})
    run_id = api.create_run(deployment)
    worker = start_worker(pool)

    run = api.wait_terminal(run_id)

    assert run["state_type"] == "COMPLETED", run["state"]
    assert run["infrastructure_pid"], "the worker records the child's pid"
    assert state_types(api, run_id) == ["SCHEDULED", "PENDING", "RUNNING", "COMPLETED"]
    assert "hello e2e" in worker.output(), "the child's output is re-emitted by the worker"


def test_engine_flow_that_raises_fails(api, pool, start_worker):
    deployment = api.create_deployment(pool, flow_name="boom", entrypoint="demo_flow.py:boom")
    run_id = api.create_run(deployment)
    start_worker(pool)

    run = api.wait_terminal(run_id)

    assert run["state_type"] == "FAILED", run["state"]
    assert "boom from the flow" in (run["state"]["message"] or "")


def test_plain_command_exit_codes_become_completed_and_failed(api, pool, start_worker):
    ok = api.create_run(api.create_deployment(pool, job_variables={"command": "sh -c 'exit 0'"}))
    bad = api.create_run(api.create_deployment(pool, job_variables={"command": "sh -c 'exit 3'"}))
    start_worker(pool)

    ok_run = api.wait_terminal(ok)
    bad_run = api.wait_terminal(bad)

    assert ok_run["state_type"] == "COMPLETED", ok_run["state"]
    assert state_types(api, ok) == ["SCHEDULED", "PENDING", "RUNNING", "COMPLETED"]
    assert bad_run["state_type"] == "FAILED", bad_run["state"]
    assert "exited with code 3" in bad_run["state"]["message"]


def test_missing_command_crashes_that_run_and_the_next_run_completes(api, pool, start_worker):
    deployment = api.create_deployment(pool)
    missing = api.create_run(deployment, job_variables={"command": "no-such-command-e2e --flag"})
    worker = start_worker(pool, "--limit", "1")

    crashed = api.wait_terminal(missing)
    assert crashed["state_type"] == "CRASHED", crashed["state"]
    assert "no-such-command-e2e" in crashed["state"]["message"]
    assert "not found" in crashed["state"]["message"]

    following = api.create_run(deployment, job_variables={"command": "true"})
    assert api.wait_terminal(following)["state_type"] == "COMPLETED"
    assert worker.process.poll() is None, "the worker keeps running"


def test_missing_working_dir_crashes_with_a_message_naming_it(api, pool, start_worker, tmp_path):
    missing_dir = tmp_path / "does-not-exist"
    run_id = api.create_run(api.create_deployment(
        pool, job_variables={"command": "true", "working_dir": str(missing_dir)}))
    start_worker(pool)

    run = api.wait_terminal(run_id)

    assert run["state_type"] == "CRASHED"
    assert f"working_dir '{missing_dir}' does not exist" in run["state"]["message"]


def test_deployment_env_and_run_env_reach_the_child_merged(api, pool, start_worker, tmp_path):
    out = tmp_path / "env.txt"
    command = ("sh -c 'echo \"A=$A S=$S B=$B INHERITED=${INHERITED-unset} "
               f"RUN=$PREFECT__FLOW_RUN_ID API=$PREFECT_API_URL\" > {out}'")
    deployment = api.create_deployment(pool, job_variables={"command": command, "env": {"A": "dep", "S": "dep"}})
    run_id = api.create_run(deployment, job_variables={"env": {"S": "run", "B": "run", "INHERITED": None}})
    worker = start_worker(pool, env={"INHERITED": "from-worker"})

    assert api.wait_terminal(run_id)["state_type"] == "COMPLETED"

    assert out.read_text().strip() == (
        f"A=dep S=run B=run INHERITED=unset RUN={run_id} API={worker.api_url}")


def test_default_working_dir_is_a_temporary_directory_removed_afterwards(api, pool, start_worker, tmp_path):
    out = tmp_path / "cwd.txt"
    run_id = api.create_run(api.create_deployment(pool, job_variables={"command": f"sh -c 'pwd > {out}'"}))
    start_worker(pool)

    assert api.wait_terminal(run_id)["state_type"] == "COMPLETED"
    cwd = out.read_text().strip()
    assert cwd.startswith("/tmp/prefect-run-")
    # Removed once the run's supervision ends, which is just after its final state is reported.
    wait_for(lambda: not os.path.exists(cwd), 10, "the temporary working directory to be removed after the run")
