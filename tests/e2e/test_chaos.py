"""Chaos on the production topology (chaos_run.py): 200 runs while every request of the workers
may be reset, held, answered 502/503/504, truncated or stalled, workers are killed with SIGKILL
and restarted, and one API process is restarted. Nothing is lost and nothing runs twice. The
1,000-run version is in bench/."""
import pytest

from chaos_run import run_chaos

pytestmark = pytest.mark.serial


def test_200_runs_through_faults_kills_and_an_api_restart_each_end_once_and_leave_nothing(topology, tmp_path):
    report = run_chaos(topology, tmp_path, runs=200, seed=20261130)
    print(report.summary())

    assert report.kills >= 3 and report.api_restarts == 1, report.summary()
    assert sum(report.faults.values()) >= 20, report.summary()
    assert not report.not_terminal, report.summary()
    assert set(report.executions) <= {0, 1}, report.summary()
    assert not report.completed_not_once, report.summary()
    assert not report.left_processes, report.summary()
