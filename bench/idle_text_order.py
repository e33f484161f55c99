"""Writes config/idle-text-order.txt: the functions an idle worker runs, for the linker to place
together (README, "Building"; docs/architecture.md, "Idle memory").

An idle worker's code is about 0.75 MB spread over the binary's 30 MB of text; the kernel maps code
in 64 KiB runs around every page touched, so scattered, those functions keep about 10 MB resident.
This runs a release binary that still has its symbols under valgrind's callgrind against a real
Prefect server, zeroes the counts once start-up is over, lets it idle (heartbeats, polls, the event
stream), and lists every function of the binary that ran, most instructions first, as gold's
`--section-ordering-file` wants them (`.text.<symbol>`; the Swift code is built with
`-function-sections`, scripts/build-release). A function renamed since the list was made is only
not placed; nothing breaks.

Usage: .venv/bin/python bench/idle_text_order.py [--idle-seconds 150]
Needs valgrind (apt) and builds the binary itself (scripts/build-release --keep-symbols).
"""
import argparse
import os
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests" / "e2e"))
from prefect_harness import PrefectServer, free_port, wait_for  # noqa: E402

ORDER_FILE = ROOT / "config" / "idle-text-order.txt"


def profile(binary: Path, idle_seconds: float, work: Path) -> Path:
    """The callgrind dump of `idle_seconds` of an idle worker, start-up excluded."""
    server = PrefectServer(work / "server", port=free_port()).start()
    log = work / "worker.log"
    try:
        env = dict(os.environ, PREFECT_API_URL=server.url, PREFECT_HOME=str(work / "home"),
                   PREFECT_WORKER_STATE_DIR=str(work / "state"), PREFECT_WORKER_QUERY_SECONDS="2",
                   PREFECT_WORKER_WEBSERVER_PORT=str(free_port()))
        worker = subprocess.Popen(
            ["valgrind", "--tool=callgrind", "--demangle=no", f"--callgrind-out-file={work}/callgrind.out",
             str(binary), "start", "--pool", "idle-profile", "--name", "idle-profile"],
            env=env, stdout=log.open("w"), stderr=subprocess.STDOUT)
        try:
            wait_for(lambda: worker.poll() is not None or "subscribed to the event stream" in log.read_text(), 300,
                     "the worker to subscribe under valgrind")
            assert worker.poll() is None, log.read_text()[-3000:]
            time.sleep(20)  # past the start-up page release (5 s after online) and the first polls
            subprocess.run(["callgrind_control", "--zero", str(worker.pid)], check=True, capture_output=True)
            time.sleep(idle_seconds)
            subprocess.run(["callgrind_control", "--dump", str(worker.pid)], check=True, capture_output=True)
            wait_for(lambda: (work / "callgrind.out.1").exists(), 30, "callgrind's dump")
        finally:
            worker.terminate()
            worker.wait(60)
    finally:
        server.stop()
    return work / "callgrind.out.1"


def functions_run(dump: Path, binary_name: str) -> list[str]:
    """The binary's functions with a cost in the dump, most instructions first (callgrind's
    name compression: `fn=(id) name` once, `fn=(id)` after)."""
    objects, names, cost = {}, {}, {}
    current_object = current_function = None
    line_pattern = re.compile(r"^(c?ob|c?fn)=\((\d+)\)(?: (.*))?$")
    for line in dump.read_text(errors="replace").splitlines():
        match = line_pattern.match(line)
        if match:
            kind, number, name = match.groups()
            table = objects if kind.endswith("ob") else names
            if name is not None:
                table[number] = name
            if kind == "ob":
                current_object = objects.get(number)
            elif kind == "fn":
                current_function = names.get(number)
            continue
        if current_function and current_object and current_object.endswith(binary_name) and line[:1].isdigit():
            fields = line.split()
            if len(fields) >= 2:
                symbol = re.sub(r"'\d+$", "", current_function)  # callgrind's recursion marker
                cost[symbol] = cost.get(symbol, 0) + int(fields[1])
    return [symbol for symbol, _ in sorted(cost.items(), key=lambda item: -item[1]) if not symbol.startswith("0x")]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--idle-seconds", type=float, default=150)
    args = parser.parse_args()
    subprocess.run([ROOT / "scripts" / "build-release", "--keep-symbols"], check=True)
    with tempfile.TemporaryDirectory(prefix="idle-order-") as directory:
        work = Path(directory)
        # valgrind 3.19 cannot read the toolchain's DWARF 5; the symbol table is all it needs.
        binary = work / "prefect-worker"
        subprocess.run(["strip", "--strip-debug", "-o", binary, ROOT / ".build" / "release" / "prefect-worker"], check=True)
        symbols = functions_run(profile(binary, args.idle_seconds, work), binary.name)
    # No comment line: gold would take it for a section name.
    ORDER_FILE.write_text("".join(f".text.{symbol}\n" for symbol in symbols))
    print(f"{ORDER_FILE}: {len(symbols)} functions")
    subprocess.run([ROOT / "scripts" / "build-release"], check=True)


if __name__ == "__main__":
    main()
