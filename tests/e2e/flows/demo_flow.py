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


def _write_crash_marker(flow, flow_run, state):
    with open(os.environ["HOOK_MARKER"], "a") as handle:
        handle.write(f"on_crashed ran for {flow_run.id} in state {state.name}\n")


def _hang(flow, flow_run, state):
    import time

    with open(os.environ["HOOK_MARKER"], "a") as handle:
        handle.write(f"hanging hook started for {flow_run.id}\n")
    time.sleep(600)


def _wait_to_be_killed():
    import time

    with open(os.environ["STARTED_MARKER"], "w") as handle:
        handle.write(str(os.getpid()))
    time.sleep(300)


@flow(on_crashed=[_write_crash_marker])
def crashy_with_hook():
    _wait_to_be_killed()


@flow(on_crashed=[_hang])
def crashy_with_hanging_hook():
    _wait_to_be_killed()
