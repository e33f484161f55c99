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


def test_the_containerfile_is_an_entrypoint_image_for_probes_as_a_user_from_files_that_exist():
    """config/Containerfile as issue 19 asks; what a build here cannot check (no registry to pull its base
    images from: README, "Install"). Every file it copies must exist, and its Swift image must be
    able to read Package.swift's tools version."""
    from prefect_harness import ROOT

    lines = (ROOT / "config" / "Containerfile").read_text().replace("\\\n", " ").splitlines()
    instructions = [line.split(None, 1) for line in lines if line.strip() and not line.lstrip().startswith("#")]
    keywords = [keyword for keyword, _ in instructions]
    assert "CMD" not in keywords, "no default pool: a flag would beat PREFECT_WORKER_POOL"
    assert ["ENTRYPOINT", '["/usr/bin/prefect-worker", "start"]'] in instructions
    user = [rest for keyword, rest in instructions if keyword == "USER"]
    assert user and user[-1] not in ("root", "0")
    assert "HEALTHCHECK" in keywords and "VOLUME" in keywords and "/health" in dict(instructions)["HEALTHCHECK"]
    environment = " ".join(rest for keyword, rest in instructions if keyword == "ENV")
    assert "PREFECT_WORKER_WEBSERVER_HOST=0.0.0.0" in environment and "PREFECT_WORKER_WITH_HEALTHCHECK=true" in environment
    labels = " ".join(rest for keyword, rest in instructions if keyword == "LABEL")
    for label in ("title", "version", "revision", "licenses"):
        assert f"org.opencontainers.image.{label}=" in labels

    swift_image = next(rest for keyword, rest in instructions if keyword == "ARG" and rest.startswith("SWIFT_IMAGE="))
    image_version = tuple(int(part) for part in swift_image.split(":")[1].split("-")[0].split("."))
    tools_version = (ROOT / "Package.swift").read_text().splitlines()[0].removeprefix("// swift-tools-version:")
    assert image_version >= tuple(int(part) for part in tools_version.split("."))

    for keyword, rest in instructions:
        if keyword == "COPY" and not rest.startswith("--from"):
            for source in rest.split()[:-1]:
                assert (ROOT / source).exists(), f"COPY {source}: missing from the repository"
