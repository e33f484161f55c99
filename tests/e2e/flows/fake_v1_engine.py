"""A stand-in for an engine of an older Prefect that speaks version 1 of the control channel: it
connects with its token but sends no hello, takes the `c` intent with `a`, and on the SIGTERM that
follows writes what it saw and exits 0, leaving the state to the worker (the marker file says
what happened)."""
import os
import signal
import socket
import sys
import time

import httpx

marker = os.environ["FAKE_MARKER"]
run_id = os.environ["PREFECT__FLOW_RUN_ID"]
httpx.post(f"{os.environ['FAKE_API_URL']}/flow_runs/{run_id}/set_state",
           json={"state": {"type": "RUNNING", "name": "Running"}}, timeout=30).raise_for_status()

connection = socket.create_connection(("127.0.0.1", int(os.environ["PREFECT__CONTROL_PORT"])))
connection.sendall(os.environ["PREFECT__CONTROL_TOKEN"].encode() + b"\n")
seen = []


def on_sigterm(signum, frame):
    with open(marker, "w") as handle:
        handle.write(" ".join(seen + ["sigterm"]))
    sys.exit(0)


signal.signal(signal.SIGTERM, on_sigterm)
with open(marker, "w") as handle:
    handle.write("connected")
while True:
    intent = connection.recv(1)
    if not intent:
        time.sleep(300)  # the worker closed the channel; wait for the signal
    seen.append(f"intent={intent.decode()}")
    connection.sendall(b"a")
