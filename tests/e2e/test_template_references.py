"""Variables and blocks in job templates ({{ prefect.variables.* }}, {{ prefect.blocks.* }},
{"$ref": ...}) resolved through the API as Prefect's worker does, from the pool's template, the
deployment's and the run's job variables; a missing one crashes only its run; block values never
reach a log line, the journal, an event or /metrics (docs/job-template-references.md)."""
import json
import subprocess
import uuid
from pathlib import Path

import httpx

from prefect_harness import JOURNAL_SOCKET, free_port, journal_entries, wait_for


def read_env(path: Path) -> dict[str, str]:
    """The `env` output a run's command wrote."""
    text = wait_for(lambda: path.exists() and path.read_text(), 30, f"{path}")
    return dict(line.split("=", 1) for line in text.splitlines() if "=" in line)


def test_references_in_the_pools_template_and_the_job_variables_reach_the_child_and_secrets_no_log(
        api, start_worker, tmp_path):
    assert JOURNAL_SOCKET.exists(), "no systemd-journald: run scripts/test, which starts one"
    tag = uuid.uuid4().hex[:8]
    secret = f"S3cr3t-{uuid.uuid4().hex}"
    workdir = tmp_path / "workdir"
    workdir.mkdir()
    api.create_variable(f"dir-{tag}", str(workdir))
    api.create_variable(f"count-{tag}", 42)
    api.create_variable(f"flag-{tag}", False)
    api.create_block("secret", f"token-{tag}", {"value": secret})
    api.create_block("string", f"greeting-{tag}", {"value": "hello world"})
    api.create_block("json", f"config-{tag}", {"value": {"nested": {"list": ["x", "y"]}, "env": {"J_A": "1", "J_B": "two"}}})
    ref_id = api.create_block("json", f"flat-{tag}", {"R_A": "alpha", "R_B": "beta"})

    # Pool B: references in the pool's own template (its env defaults).
    from conftest import default_process_template
    template = default_process_template()
    template["variables"]["properties"]["env"]["default"] = {
        "POOL_SECRET": f"{{{{ prefect.blocks.secret.token-{tag} }}}}",
        "POOL_VAR": f"n={{{{ prefect.variables.count-{tag} }}}}",
    }
    pool_b = f"refs-{tag}"
    api.create_pool(pool_b, base_job_template=template)
    deployment = api.create_deployment(pool_b, job_variables={
        "working_dir": f"{{{{ prefect.variables.dir-{tag} }}}}",
        # The secret inline in the command: the worker logs the command it starts.
        "command": f"sh -c 'env > run.env; echo {{{{ prefect.blocks.secret.token-{tag} }}}} > token.txt'",
        "env": {"DEP_STRING": f"{{{{ prefect.blocks.string.greeting-{tag} }}}}",
                "DEP_INLINE": f"flag={{{{ prefect.variables.flag-{tag} }}}}"},
    })
    run_b = api.create_run(deployment, job_variables={"env": {
        "RUN_JSON": f"{{{{ prefect.blocks.json.config-{tag}.nested.list[1] }}}}",
        "RUN_NUM": f"{{{{ prefect.variables.count-{tag} }}}}"}})
    metrics_port = free_port()
    worker_b = start_worker(pool_b, "--log-format", "journal", "--with-metrics",
                            env={"PREFECT_WORKER_WEBSERVER_PORT": str(metrics_port)})

    # Pool A (the default template): a whole env from a JSON block (typed: an object), a $ref,
    # a missing variable and a missing block, then a run that needs nothing.
    pool_a = f"plain-{tag}"
    loose_env = default_process_template()  # the server checks job variables against the schema
    loose_env["variables"]["properties"]["env"] = {"title": "Environment Variables (any JSON)"}
    api.create_pool(pool_a, base_job_template=loose_env)
    out = tmp_path / "out"
    out.mkdir()
    write_env = api.create_deployment(pool_a, job_variables={"command": f"sh -c 'env > {out}/$PREFECT__FLOW_RUN_ID.env'"})
    typed = api.create_run(write_env, job_variables={"env": f"{{{{ prefect.blocks.json.config-{tag}.env }}}}"})
    by_ref = api.create_run(write_env, job_variables={"env": {"$ref": {"block_document_id": ref_id}}})
    missing_variable = api.create_run(write_env, job_variables={"env": {"X": f"/data/{{{{ prefect.variables.gone-{tag} }}}}"}})
    missing_block = api.create_run(write_env, job_variables={"env": {"Y": f"{{{{ prefect.blocks.secret.gone-{tag} }}}}"}})
    start_worker(pool_a)

    # Pool B's run: every kind of reference from every layer, with its value and type.
    assert api.wait_terminal(run_b)["state_type"] == "COMPLETED"
    env = read_env(workdir / "run.env")
    assert env["POOL_SECRET"] == secret
    assert env["POOL_VAR"] == "n=42"
    assert env["DEP_STRING"] == "hello world"
    assert env["DEP_INLINE"] == "flag=False", "Python's str() of a boolean inside a longer string"
    assert env["RUN_JSON"] == "y"
    assert env["RUN_NUM"] == "42"
    assert env["PWD"] == str(workdir), "working_dir from a variable"
    assert (workdir / "token.txt").read_text().strip() == secret

    # Pool A's runs.
    assert api.wait_terminal(typed)["state_type"] == "COMPLETED"
    typed_env = read_env(out / f"{typed}.env")
    assert (typed_env["J_A"], typed_env["J_B"]) == ("1", "two"), "a whole-string placeholder keeps the object's type"
    assert api.wait_terminal(by_ref)["state_type"] == "COMPLETED"
    ref_env = read_env(out / f"{by_ref}.env")
    assert (ref_env["R_A"], ref_env["R_B"]) == ("alpha", "beta"), "$ref is the document's whole data"
    for run_id, reference in ((missing_variable, f"prefect.variables.gone-{tag}"),
                              (missing_block, f"prefect.blocks.secret.gone-{tag}")):
        run = api.wait_terminal(run_id)
        assert run["state_type"] == "CRASHED", run["state"]
        assert reference in run["state"]["message"] and "does not exist" in run["state"]["message"], run["state"]["message"]
        assert not (out / f"{run_id}.env").exists(), "a run whose reference is missing never starts"
    after = api.create_run(write_env)
    assert api.wait_terminal(after)["state_type"] == "COMPLETED", "the worker goes on after a missing reference"

    # The secret is nowhere the worker writes: its output, the journal, the API's logs and
    # events, /metrics. The command line it logged is there, masked.
    started = wait_for(lambda: [e for e in journal_entries(PREFECT_FLOW_RUN_ID=run_b) if e["MESSAGE"] == "started process"],
                       30, "the 'started process' entry in the journal")
    journal_text = json.dumps(started)
    assert "<redacted>" in journal_text and "token.txt" in journal_text, journal_text
    everything = subprocess.run(["journalctl", "--no-pager", "-o", "json", "--all", f"PREFECT_WORK_POOL={pool_b}"],
                                capture_output=True, text=True, timeout=60, check=True).stdout
    assert secret not in everything
    assert secret not in worker_b.output()
    assert secret not in json.dumps(api.logs(run_b))
    def worker_events():
        found = api._call("POST", "/events/filter", json={
            "filter": {"any_resource": {"id": [f"prefect.flow-run.{run_b}"]}}, "limit": 50})["events"]
        return found if any(e["event"] == "prefect.worker.executed-flow-run" for e in found) else None
    events = wait_for(worker_events, 30, "the worker's events about the run", interval=1)
    assert secret not in json.dumps(events)
    metrics = httpx.get(f"http://127.0.0.1:{metrics_port}/metrics", timeout=5).text
    assert 'route="GET /block_types/slug/{slug}/block_documents/name/{name}"' in metrics
    assert secret not in metrics and f"token-{tag}" not in metrics
