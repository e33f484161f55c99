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
