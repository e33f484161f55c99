"""The worker as a container's exec-form entrypoint: PID 1 of its own PID namespace (made here with
`unshare --pid --fork --mount-proc`, as a container runtime does), with no init to help it."""
import os
import signal
from pathlib import Path

from prefect_harness import wait_for


def children_of(pid: int) -> list[int]:
    found = []
    for task in Path(f"/proc/{pid}/task").iterdir():
        found += [int(child) for child in (task / "children").read_text().split()]
    return found


def state_of(pid: int) -> str | None:
    """The process's state letter (R, S, Z...), None when it is gone."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except FileNotFoundError:
        return None


def test_as_pid_1_it_runs_flows_reaps_orphans_and_stops_on_sigterm(api, pool, start_worker):
    # The run leaves an orphan behind; as PID 1 the worker inherits it and must reap it.
    command = "sh -c 'sleep 30 & echo started-orphan'"
    run_id = api.create_run(api.create_deployment(pool, job_variables={"command": command}))
    wrapper = start_worker(pool, "--log-format", "json", wrapper=("unshare", "--pid", "--fork", "--mount-proc"))
    worker_pid = wait_for(lambda: children_of(wrapper.process.pid), 20, "the worker inside the namespace")[0]
    nspid = next(line for line in Path(f"/proc/{worker_pid}/status").read_text().splitlines() if line.startswith("NSpid:"))
    assert nspid.split()[-1] == "1", f"the worker is PID 1 in its namespace: {nspid}"

    assert api.wait_terminal(run_id)["state_type"] == "COMPLETED"
    # The orphaned sleep was re-parented to PID 1, killed as a leftover of the run, and reaped:
    # nothing (no zombie either) is left under the worker.
    wait_for(lambda: children_of(worker_pid) == [], 20, "nothing left under PID 1")
    assert "leftover process" in wrapper.output()

    # The kernel gives PID 1 no default action for SIGTERM: it stops only because it handles it.
    os.kill(worker_pid, signal.SIGTERM)
    assert wrapper.process.wait(timeout=30) == 0
    assert state_of(worker_pid) is None
