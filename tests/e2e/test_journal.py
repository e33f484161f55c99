"""Every line of every run in the systemd journal, with the run's fields, against a real
systemd-journald (scripts/test starts one when none runs); and JSON lines when there is no journal."""
import json
import os

import pytest

from prefect_harness import JOURNAL_SOCKET, journal_entries, journal_messages, wait_for


@pytest.fixture(autouse=True)
def journal():
    if not JOURNAL_SOCKET.exists():
        pytest.fail(f"no systemd-journald listens at {JOURNAL_SOCKET}: run scripts/test, which starts one")


def output_entries(run_id: str, expected: int, timeout: float = 60) -> list[dict]:
    """The run's output entries (those with a stream), once there are at least `expected`."""
    def enough():
        entries = [e for e in journal_entries(PREFECT_FLOW_RUN_ID=run_id) if "PREFECT_STREAM" in e]
        return entries if len(entries) >= expected else None
    return wait_for(enough, timeout, f"{expected} output entries of run {run_id} in the journal", interval=0.5)


def test_output_lines_carry_the_runs_fields_and_stderr_a_higher_priority(api, pool, start_worker):
    command = "sh -c 'echo out-1; echo err-1 >&2; echo out-2; echo err-2 >&2'"
    deployment = api.create_deployment(pool, job_variables={"command": command})
    run_id = api.create_run(deployment)
    other_id = api.create_run(deployment)
    start_worker(pool, "--log-format", "journal", "--name", "journal-worker")

    run = api.wait_terminal(run_id)
    assert run["state_type"] == "COMPLETED", run["state"]
    assert api.wait_terminal(other_id)["state_type"] == "COMPLETED"
    entries = output_entries(run_id, 4)

    assert [e["MESSAGE"] for e in entries if e["PREFECT_STREAM"] == "stdout"] == ["out-1", "out-2"]
    assert [e["MESSAGE"] for e in entries if e["PREFECT_STREAM"] == "stderr"] == ["err-1", "err-2"]
    for entry in entries:
        assert entry["PREFECT_FLOW_RUN_ID"] == run_id
        assert entry["PREFECT_FLOW_RUN_NAME"] == run["name"]
        assert entry["PREFECT_DEPLOYMENT_ID"] == deployment
        assert entry["PREFECT_WORK_POOL"] == pool
        assert entry["PREFECT_WORKER_NAME"] == "journal-worker"
        assert entry["PREFECT_PID"] == run["infrastructure_pid"], "the child's pid"
        assert entry["SYSLOG_IDENTIFIER"] == "prefect-worker"
        assert entry["PRIORITY"] == ("6" if entry["PREFECT_STREAM"] == "stdout" else "5")
    # The worker's own lines about the run are in the same query, with where they were logged.
    own = [e for e in journal_entries(PREFECT_FLOW_RUN_ID=run_id) if "PREFECT_STREAM" not in e]
    assert any(e["MESSAGE"] == "claimed flow run" for e in own)
    assert all(e.get("CODE_FILE", "").endswith(".swift") and e.get("CODE_LINE") and e.get("CODE_FUNC") for e in own)
    # Exactly one run's lines: the other run's entries are under its own id only.
    other_pid = api.run(other_id)["infrastructure_pid"]
    assert all(e["PREFECT_PID"] != other_pid for e in entries)
    assert len(output_entries(other_id, 4)) == 4


def test_100000_lines_from_one_child_arrive_complete_and_in_order(api, pool, start_worker):
    run_id = api.create_run(api.create_deployment(pool, job_variables={"command": "seq 1 100000"}))
    worker = start_worker(pool, "--log-format", "journal")

    assert api.wait_terminal(run_id, timeout=120)["state_type"] == "COMPLETED"

    def all_lines():
        lines = journal_messages(PREFECT_FLOW_RUN_ID=run_id, PREFECT_STREAM="stdout")
        return lines if len(lines) >= 100000 else None
    lines = wait_for(all_lines, 120, "100,000 lines in the journal", interval=1)
    assert lines == [str(number) for number in range(1, 100001)]
    assert not [e for e in journal_entries(PREFECT_FLOW_RUN_ID=run_id) if "PREFECT_OUTPUT_DROPPED" in e]
    assert worker.process.poll() is None


def test_a_1_mib_line_arrives_in_64_kib_pieces_and_the_next_run_is_fine(api, pool, start_worker):
    command = "sh -c \"head -c 1048576 /dev/zero | tr '\\\\0' x; echo; echo after\""
    deployment = api.create_deployment(pool, job_variables={"command": command})
    run_id = api.create_run(deployment)
    worker = start_worker(pool, "--log-format", "journal")

    assert api.wait_terminal(run_id)["state_type"] == "COMPLETED"
    entries = output_entries(run_id, 17)

    pieces, last = entries[:-1], entries[-1]
    assert last["MESSAGE"] == "after"
    assert "".join(e["MESSAGE"] for e in pieces) == "x" * 1048576
    assert all(len(e["MESSAGE"]) == 65536 for e in pieces)
    assert [e.get("PREFECT_LINE_PARTIAL") for e in pieces] == ["true"] * 15 + [None], "the last piece ends the line"
    following = api.create_run(deployment, job_variables={"command": "echo next"})
    assert api.wait_terminal(following)["state_type"] == "COMPLETED"
    assert worker.process.poll() is None


def test_over_the_rate_limit_lines_are_dropped_and_counted_exactly(api, pool, start_worker):
    run_id = api.create_run(api.create_deployment(pool, job_variables={"command": "seq 1 5000"}))
    start_worker(pool, "--log-format", "journal", env={
        "PREFECT_WORKER_OUTPUT_BURST_LINES": "1000", "PREFECT_WORKER_OUTPUT_LINES_PER_SECOND": "1"})

    assert api.wait_terminal(run_id)["state_type"] == "COMPLETED"

    def summary():
        found = [e for e in journal_entries(PREFECT_FLOW_RUN_ID=run_id) if "PREFECT_OUTPUT_WRITTEN" in e]
        return found[0] if found else None
    closing = wait_for(summary, 30, "the run's output summary")
    written, dropped = int(closing["PREFECT_OUTPUT_WRITTEN"]), int(closing["PREFECT_OUTPUT_DROPPED"])
    lines = journal_messages(PREFECT_FLOW_RUN_ID=run_id, PREFECT_STREAM="stdout")
    assert written + dropped == 5000
    assert 1000 <= written < 1100, "the burst, and what one line a second adds"
    assert len(lines) == written
    assert lines[:1000] == [str(n) for n in range(1, 1001)]
    notices = [e for e in journal_entries(PREFECT_FLOW_RUN_ID=run_id)
               if "PREFECT_OUTPUT_DROPPED" in e and "PREFECT_OUTPUT_WRITTEN" not in e]
    assert sum(int(e["PREFECT_OUTPUT_DROPPED"]) for e in notices) == dropped, "each drop is told in the run's lines"
    assert all(e["PRIORITY"] == "4" and "over the run's output rate limit" in e["MESSAGE"] for e in notices)


def test_journal_is_chosen_when_systemd_connected_stderr_to_it(api, pool, start_worker):
    """Under systemd, JOURNAL_STREAM holds the device:inode of the stream it gave the service as
    stderr; the harness points it at the worker's log file, as systemd would at its stream."""
    run_id = api.create_run(api.create_deployment(pool, job_variables={"command": "echo via-journal-stream"}))
    worker = start_worker(pool, journal_stream=True)

    assert api.wait_terminal(run_id)["state_type"] == "COMPLETED"
    assert output_entries(run_id, 1)[0]["MESSAGE"] == "via-journal-stream"
    assert "via-journal-stream" not in worker.output(), "nothing of it on stderr"


def test_without_a_journal_records_are_json_lines_on_stderr(api, pool, start_worker):
    run_id = api.create_run(api.create_deployment(pool, job_variables={"command": "sh -c 'echo to-json; echo e >&2'"}))
    worker = start_worker(pool)  # stderr is a file and JOURNAL_STREAM is unset: auto means JSON

    run = api.wait_terminal(run_id)
    assert run["state_type"] == "COMPLETED"
    wait_for(lambda: "to-json" in worker.output(), 10, "the output line")
    records = [json.loads(line) for line in worker.output().splitlines() if line.strip()]
    output = [r for r in records if r.get("flow_run_id") == run_id and "stream" in r]
    # Two pipes, two readers: the order across stdout and stderr is not defined, within each it is.
    assert sorted((r["message"], r["stream"], r["level"]) for r in output) == [("e", "stderr", "notice"), ("to-json", "stdout", "info")]
    for record in output:
        assert record["flow_run_name"] == run["name"] and record["work_pool"] == pool
        assert record["pid"] == run["infrastructure_pid"] and record["timestamp"].endswith("Z")
    assert not journal_entries(PREFECT_FLOW_RUN_ID=run_id), "nothing went to the journal"


def test_binary_output_is_repaired_not_lost_in_the_journal_and_in_json(api, pool, start_worker):
    command = "sh -c 'head -c 300000 /dev/urandom; echo; echo after-binary'"
    deployment = api.create_deployment(pool, job_variables={"command": command})
    journal_run = api.create_run(deployment)
    journal_worker = start_worker(pool, "--log-format", "journal")
    assert api.wait_terminal(journal_run)["state_type"] == "COMPLETED"
    wait_for(lambda: "after-binary" in journal_messages(PREFECT_FLOW_RUN_ID=journal_run, PREFECT_STREAM="stdout"),
             30, "the line after the binary output in the journal")
    assert journal_worker.stop() == 0  # the next run is for the JSON worker alone

    json_run = api.create_run(deployment)
    json_worker = start_worker(pool, "--log-format", "json")
    assert api.wait_terminal(json_run)["state_type"] == "COMPLETED"
    wait_for(lambda: "after-binary" in json_worker.output(), 30, "the line after the binary output")
    records = [json.loads(line) for line in json_worker.output().split("\n") if line]  # each line one object
    binary = [r for r in records if r.get("flow_run_id") == json_run and r.get("stream") == "stdout"]
    assert binary[-1]["message"] == "after-binary" and len(binary) > 1


NO_JOURNAL = ("unshare", "--mount", "sh", "-c", 'mount -t tmpfs tmpfs /run/systemd/journal && exec "$@"', "sh")
"""Runs the worker with an empty /run/systemd/journal (a private mount): as on a host without journald."""


def test_without_a_journal_asking_for_it_is_a_settings_error_and_auto_falls_back_to_json(api, pool, start_worker):
    asked = start_worker(pool, "--log-format", "journal", wrapper=NO_JOURNAL)
    assert asked.process.wait(timeout=30) == 2
    message = asked.output().strip()
    assert message.count("\n") == 0 and "--log-format" in message and "systemd-journald" in message, message

    run_id = api.create_run(api.create_deployment(pool, job_variables={"command": "echo no-journal-here"}))
    auto = start_worker(pool, journal_stream=True, wrapper=NO_JOURNAL)  # systemd's stream, but no journald
    assert api.wait_terminal(run_id)["state_type"] == "COMPLETED"
    wait_for(lambda: "no-journal-here" in auto.output(), 10, "the output line on stderr")
    line = next(json.loads(l) for l in auto.output().split("\n") if "no-journal-here" in l and '"stream"' in l)
    assert line["flow_run_id"] == run_id and line["stream"] == "stdout"
    assert not journal_entries(PREFECT_FLOW_RUN_ID=run_id)
