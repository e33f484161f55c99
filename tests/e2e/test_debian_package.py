"""The Debian package (scripts/package-deb) as an admin meets it: lintian's verdict, `dpkg -i` on this
machine, every file with its owner and mode, the unit verified, the man page and the completions,
`--version`, the installed binary run as the package's user to a COMPLETED run, then `dpkg -r` and
`dpkg -P` leaving nothing of it behind. The tests share one installation and run in file order."""
import grp
import os
import pwd
import re
import stat
import subprocess
from pathlib import Path

import pytest

from prefect_harness import ROOT

PACKAGE = "prefect-worker"
USER = "prefect-worker"
STATE = Path("/var/lib/prefect-worker")
CONFIG = Path("/etc/prefect-worker")

# path -> (mode, owner, group), for every file the package ships.
FILES = {
    "/usr/bin/prefect-worker": (0o755, "root", "root"),
    "/usr/lib/systemd/system/prefect-worker.service": (0o644, "root", "root"),
    "/usr/lib/sysusers.d/prefect-worker.conf": (0o644, "root", "root"),
    "/etc/prefect-worker/config.toml": (0o640, "root", USER),  # the worker reads it as its user
    "/etc/prefect-worker/prefect-worker.env": (0o600, "root", "root"),  # systemd reads it as root
    "/usr/share/man/man1/prefect-worker.1.gz": (0o644, "root", "root"),
    "/usr/share/bash-completion/completions/prefect-worker": (0o644, "root", "root"),
    "/usr/share/zsh/vendor-completions/_prefect-worker": (0o644, "root", "root"),
    "/usr/share/fish/vendor_completions.d/prefect-worker.fish": (0o644, "root", "root"),
    "/usr/share/doc/prefect-worker/copyright": (0o644, "root", "root"),
    "/usr/share/doc/prefect-worker/changelog.gz": (0o644, "root", "root"),
    "/usr/share/lintian/overrides/prefect-worker": (0o644, "root", "root"),
}
CONFFILES = {"/etc/prefect-worker/config.toml", "/etc/prefect-worker/prefect-worker.env"}


def run(*command: str, timeout: float = 120, check: bool = True, **kwargs) -> subprocess.CompletedProcess:
    result = subprocess.run(command, capture_output=True, text=True, timeout=timeout, **kwargs)
    if check:
        assert result.returncode == 0, f"{command}: {result.returncode}\n{result.stdout[-3000:]}\n{result.stderr[-3000:]}"
    return result


def package_status() -> str:
    return run("dpkg-query", "-W", "-f", "${Status}", PACKAGE, check=False).stdout


@pytest.fixture(scope="module")
def deb() -> Path:
    if os.geteuid() != 0:
        pytest.skip("installs a package on this machine: needs root (CI runs as root)")
    if package_status():
        pytest.skip(f"{PACKAGE} is already known to dpkg here; this test installs and purges its own")
    # scripts/test has built the release binary already: this only packages it (the build is incremental).
    built = run(str(ROOT / "scripts" / "package-deb"), timeout=1800, cwd=ROOT)
    path = ROOT / built.stdout.strip().splitlines()[-1]
    version = run(str(ROOT / ".build" / "release" / "prefect-worker"), "--version").stdout.splitlines()[0]
    assert path.name == f"{PACKAGE}_{version}_{run('dpkg', '--print-architecture').stdout.strip()}.deb"
    return path


@pytest.fixture(scope="module")
def installed(deb: Path):
    run("dpkg", "-i", str(deb))
    yield deb
    if package_status():  # a test failed before the purge: leave the machine as it was
        run("dpkg", "-P", PACKAGE, check=False)


def test_lintian_finds_nothing_but_the_explained_overrides(deb: Path):
    result = run("lintian", "--pedantic", "--info", "--display-experimental", "--show-overrides", str(deb), check=False)
    tags = [line for line in result.stdout.splitlines() if re.match(r"^[EWIPXO]: ", line)]
    overrides = (ROOT / "packaging" / "debian" / "lintian-overrides").read_text()
    explained = {line for line in overrides.splitlines() if line and not line.startswith("#")}
    assert [tag for tag in tags if not tag.startswith("O: ")] == [], result.stdout
    assert {tag.removeprefix("O: ") for tag in tags} == explained, "every override is still needed"
    # Directories in the archive, its ./ entry first: 0755 and root's (lintian does not look at ./).
    entries = [line.split() for line in run("dpkg-deb", "-c", str(deb)).stdout.splitlines()]
    assert entries[0][5] == "./" and all(entry[:2] == ["drwxr-xr-x", "root/root"] for entry in entries if entry[0][0] == "d")


def test_every_file_is_installed_with_its_owner_and_mode_and_the_user_exists(installed):
    listed = run("dpkg", "-L", PACKAGE).stdout.splitlines()
    assert {path for path in listed if Path(path).is_file()} == set(FILES)
    for path, (mode, owner, group) in FILES.items():
        info = os.stat(path)
        assert (stat.S_IMODE(info.st_mode), pwd.getpwuid(info.st_uid).pw_name, grp.getgrgid(info.st_gid).gr_name) \
            == (mode, owner, group), path
    assert set(run("dpkg-query", "-W", "-f", "${Conffiles}", PACKAGE).stdout.split()[::2]) == CONFFILES

    user = pwd.getpwnam(USER)
    assert user.pw_uid < 1000 and user.pw_dir == str(STATE) and user.pw_shell == "/usr/sbin/nologin"
    assert grp.getgrgid(user.pw_gid).gr_name == USER
    info = os.stat(STATE)
    assert (stat.S_IMODE(info.st_mode), info.st_uid) == (0o700, user.pw_uid), "the run ledger's directory is the user's"


def test_the_unit_verifies_the_man_page_renders_and_the_completions_load(installed):
    unit = Path("/usr/lib/systemd/system/prefect-worker.service").read_text()
    assert "ExecStart=/usr/bin/prefect-worker start\n" in unit and f"User={USER}\n" in unit
    verify = run("systemd-analyze", "verify", "/usr/lib/systemd/system/prefect-worker.service")
    assert verify.stdout.strip() == "" and verify.stderr.strip() == ""

    page = run("man", "-P", "cat", "-l", "/usr/share/man/man1/prefect-worker.1.gz", env={**os.environ, "MANWIDTH": "100"})
    assert page.stderr == ""
    assert "SYNOPSIS" in page.stdout and "--pool" in page.stdout and "PREFECT_WORKER_DRAIN_SECONDS" in page.stdout

    def complete(*words: str) -> list[str]:
        script = (
            "source /usr/share/bash-completion/completions/prefect-worker\n"
            f"COMP_WORDS=({' '.join(words)}); COMP_CWORD={len(words) - 1}\n"
            f"COMP_LINE='{' '.join(words)}'; COMP_POINT=${{#COMP_LINE}}\n"
            f"_prefect-worker prefect-worker {words[-1]} {words[-2]}\n"
            'printf "%s\\n" "${COMPREPLY[@]}"\n')
        return run("bash", "--norc", "--noprofile", "-c", script).stdout.split()
    assert complete("prefect-worker", "sta") == ["start"]
    assert complete("prefect-worker", "start", "--po") == ["--pool"]
    assert "--pool" in Path("/usr/share/zsh/vendor-completions/_prefect-worker").read_text()
    assert "-l 'pool'" in Path("/usr/share/fish/vendor_completions.d/prefect-worker.fish").read_text()


def test_version_names_the_package_version_the_commit_and_swift(installed):
    lines = run("/usr/bin/prefect-worker", "--version").stdout.splitlines()
    assert lines[0] == run("dpkg-query", "-W", "-f", "${Version}", PACKAGE).stdout
    assert lines[1] == "commit " + run(str(ROOT / "scripts" / "git-commit")).stdout.strip()
    told = run("swift", "--version")
    swift = re.search(r"Swift version (\S+)", told.stdout + told.stderr)
    assert lines[2] == f"Swift {swift.group(1)}"


def test_the_installed_binary_runs_a_flow_as_the_package_user(installed, api, pool, start_worker):
    run_id = api.create_run(api.create_deployment(
        pool, job_variables={"command": "sh -c 'echo \"run-as=$(id -un) home=$HOME\"'"}))
    # As the unit runs it: the package's user (setpriv execs the worker, so that it gets the test's
    # SIGTERM itself), the variables systemd sets for User= and StateDirectory=, no PREFECT_HOME or
    # state directory of the test's own.
    worker = start_worker(pool, "--log-format", "json", binary=Path("/usr/bin/prefect-worker"),
                          wrapper=("setpriv", f"--reuid={USER}", f"--regid={USER}", "--init-groups", "--"),
                          python=None, cwd=STATE,
                          env={"PREFECT_HOME": None, "PREFECT_WORKER_STATE_DIR": None, "STATE_DIRECTORY": str(STATE),
                               "HOME": str(STATE), "USER": USER, "LOGNAME": USER})
    assert api.wait_terminal(run_id)["state_type"] == "COMPLETED"
    assert f"run-as={USER} home={STATE}" in worker.output()
    assert worker.stop() == 0


def test_remove_keeps_the_configuration_and_purge_leaves_nothing(installed):
    # What an admin adds: a credential, and a drop-in. Purge takes them too.
    Path("/etc/prefect-worker/api-key").write_text("")
    drop_in = Path("/etc/systemd/system/prefect-worker.service.d")
    drop_in.mkdir(parents=True, exist_ok=True)
    (drop_in / "override.conf").write_text("[Service]\nEnvironment=PREFECT_WORKER_LIMIT=2\n")

    run("dpkg", "-r", PACKAGE)
    assert package_status() == "deinstall ok config-files"
    assert [path for path in FILES if Path(path).exists() and path not in CONFFILES] == []
    assert all(Path(path).exists() for path in CONFFILES), "dpkg -r keeps the conffiles"

    run("dpkg", "-P", PACKAGE)
    assert package_status() == ""
    left = [path for path in [*FILES, str(CONFIG), str(STATE), str(drop_in)] if Path(path).exists()]
    assert left == []
    # The system user stays, as Debian keeps system users: files it made may still exist anywhere.
    assert pwd.getpwnam(USER).pw_dir == str(STATE)
