"""Flows the end-to-end tests and the quick-start demo deploy."""
import os

from prefect import flow


@flow(log_prints=True)
def hello(name: str = "world"):
    print(f"hello {name}")
    marker = os.environ.get("MARKER_FILE")
    if marker:
        with open(marker, "a") as handle:
            handle.write(os.environ.get("PREFECT__FLOW_RUN_ID", "") + "\n")
    return name


@flow
def boom():
    raise ValueError("boom from the flow")


def _write_hook_marker(flow, flow_run, state):
    with open(os.environ["HOOK_MARKER"], "w") as handle:
        handle.write(f"on_cancellation ran for {flow_run.id}\n")


@flow(on_cancellation=[_write_hook_marker])
def slow_with_hook():
    import time

    with open(os.environ["STARTED_MARKER"], "w") as handle:
        handle.write(str(os.getpid()))
    time.sleep(300)


@flow
def sleepy(seconds: float = 5.0):
    import time

    with open(os.environ["STARTED_MARKER"], "w") as handle:
        handle.write(str(os.getpid()))
    time.sleep(seconds)
    return seconds
