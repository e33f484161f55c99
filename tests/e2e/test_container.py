"""The worker as a container's exec-form entrypoint: PID 1 of its own PID namespace (made here with
`unshare --pid --fork --mount-proc`, as a container runtime does), with no init to help it."""
import json
import os
import re
import shutil
import signal
import subprocess
import uuid
from pathlib import Path

import httpx
import pytest

from prefect_harness import FLOWS_DIR, ROOT, free_port, wait_for


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


PODMAN_CONF = """[containers]
default_ulimits = ["nofile=20000:20000", "nproc=32768:32768"]
[engine]
runtime = "runc"
"""


def podman(*args: str, timeout: float = 600, check: bool = True, conf: Path) -> subprocess.CompletedProcess:
    # crun cannot start containers on this kind of host (cgroups v1 + v2 hybrid) and the default
    # ulimits exceed the hard ones here: runc and explicit limits (README, "Install").
    result = subprocess.run(["podman", *args], capture_output=True, text=True, timeout=timeout,
                            env={**os.environ, "CONTAINERS_CONF": str(conf)})
    if check:
        assert result.returncode == 0, f"podman {' '.join(args)}: {result.returncode}\n{result.stdout[-3000:]}\n{result.stderr[-3000:]}"
    return result


def debian_mirror() -> str:
    for source in [Path("/etc/apt/sources.list"), *Path("/etc/apt/sources.list.d").glob("*.sources")]:
        if source.exists():
            found = re.search(r"^(?:URIs:\s*|deb\s+(?:\[[^]]*\]\s+)?)(http\S+/debian)\b", source.read_text(), re.M)
            if found:
                return found.group(1)
    return "http://deb.debian.org/debian"


def import_tree(tree: Path, tag: str, conf: Path) -> None:
    """A directory as a one-layer image (`podman import` of its tarball)."""
    tarball = tree.with_suffix(".tar")
    subprocess.run(["tar", "-C", str(tree), "-cf", str(tarball), "."], check=True, timeout=300)
    podman("import", str(tarball), tag, conf=conf)


@pytest.fixture(scope="module")
def image(tmp_path_factory):
    """config/Containerfile built with podman. No registry is reachable here, so the two base images
    are stand-ins: the runtime is a debootstrapped Debian with Python and pip where the slim Python
    image has them, and the binary comes from an image holding the release build (BINARY_FROM), the
    build stage being skipped."""
    if os.geteuid() != 0 or shutil.which("podman") is None or shutil.which("debootstrap") is None:
        pytest.skip("needs root, podman and debootstrap (scripts/setup-system installs them)")
    work = tmp_path_factory.mktemp("image")
    conf = work / "containers.conf"
    conf.write_text(PODMAN_CONF)
    tag = uuid.uuid4().hex[:8]
    base, python, binary, built = (f"localhost/pw-test-{name}:{tag}" for name in ("debian", "python", "binary", "worker"))
    subprocess.run(["debootstrap", "--variant=minbase", "bookworm", str(work / "rootfs"), debian_mirror()],
                   check=True, capture_output=True, timeout=600)
    import_tree(work / "rootfs", base, conf)
    podman("build", "--network=host", "--build-arg", f"BASE_IMAGE={base}", "-t", python,
           "-f", str(ROOT / "tests" / "e2e" / "container" / "python-standin.Containerfile"), str(work), conf=conf)
    release = ROOT / ".build" / "release" / "prefect-worker"
    assert release.exists(), "scripts/test builds the release binary before the end-to-end tests"
    (work / "binary" / "src" / ".build" / "release").mkdir(parents=True)
    shutil.copy2(release, work / "binary" / "src" / ".build" / "release")
    import_tree(work / "binary", binary, conf)
    commit = subprocess.run([str(ROOT / "scripts" / "git-commit")], capture_output=True, text=True, check=True).stdout.strip()
    # The host's CA certificates for pip: this machine reaches PyPI through a proxy of its own CA.
    podman("build", "--network=host", "--format", "docker", "-v", "/etc/ssl/certs:/etc/ssl/certs:ro",
           "--build-arg", f"RUNTIME_IMAGE={python}", "--build-arg", f"BINARY_FROM={binary}",
           "--build-arg", f"GIT_COMMIT={commit}", "-t", built, "-f", str(ROOT / "config" / "Containerfile"), str(ROOT),
           timeout=900, conf=conf)
    yield built, commit, conf
    podman("rmi", "-f", built, binary, python, base, check=False, conf=conf)


def listening_on_all_addresses(port: int) -> bool:
    """A socket listening on 0.0.0.0:port in this network namespace (/proc/net/tcp, state 0A)."""
    rows = [line.split() for line in Path("/proc/net/tcp").read_text().splitlines()[1:]]
    return any(row[1] == f"00000000:{port:04X}" and row[3] == "0A" for row in rows)


def test_the_image_runs_flows_as_its_user_serves_health_on_all_addresses_and_stops_on_sigterm(image, api, pool, server):
    built, commit, conf = image
    inspected = json.loads(podman("image", "inspect", built, conf=conf).stdout)[0]
    config = inspected["Config"]
    assert config["User"] == "prefect-worker" and config["Entrypoint"] == ["/usr/bin/prefect-worker", "start"]
    assert not config.get("Cmd"), "no default pool"
    health = inspected.get("Healthcheck") or config.get("Healthcheck")  # where podman 4.3 puts it, and Docker
    assert health and health["Test"][0] == "CMD" and "/health" in " ".join(health["Test"]), inspected
    assert config["Labels"]["org.opencontainers.image.revision"] == commit
    assert "/var/lib/prefect-worker" in config["Volumes"]

    port = free_port()
    name = f"pw-test-{uuid.uuid4().hex[:8]}"
    engine_run = api.create_run(api.create_deployment(pool))
    command_run = api.create_run(api.create_deployment(pool, job_variables={"command": "sh -c 'echo run-as=$(id -un)'"}))
    # The host's network: the server is on this machine's 127.0.0.1. The flows directory at the
    # path the deployments' pull step names.
    podman("run", "-d", "--name", name, "--network=host", "-e", f"PREFECT_API_URL={server.url}",
           "-e", f"PREFECT_WORKER_POOL={pool}", "-e", f"PREFECT_WORKER_WEBSERVER_PORT={port}",
           "-e", "PREFECT_WORKER_QUERY_SECONDS=1", "-v", f"{FLOWS_DIR}:{FLOWS_DIR}:ro", built, conf=conf)
    try:
        assert api.wait_terminal(command_run)["state_type"] == "COMPLETED"
        assert api.wait_terminal(engine_run, timeout=180)["state_type"] == "COMPLETED", "the image's Python runs the engine"
        logs = podman("logs", name, conf=conf)
        assert "run-as=prefect-worker" in logs.stdout + logs.stderr

        wait_for(lambda: listening_on_all_addresses(port), 20, f"the health endpoint on 0.0.0.0:{port}")
        assert httpx.get(f"http://127.0.0.1:{port}/health", timeout=5).status_code == 200
        assert podman("healthcheck", "run", name, conf=conf, check=False).returncode == 0, "HEALTHCHECK healthy"

        podman("stop", "-t", "60", name, conf=conf)  # SIGTERM to PID 1, the worker
        state = json.loads(podman("container", "inspect", name, conf=conf).stdout)[0]["State"]
        assert state["ExitCode"] == 0
    finally:
        podman("rm", "-f", name, check=False, conf=conf)
