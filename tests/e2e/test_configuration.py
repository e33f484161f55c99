"""The configuration file (--config): a worker configured by its file alone runs flow runs, flag >
environment > file in `config show`, one-line errors naming the file, line and key, and every
setting's flag in `start --help`."""
import os
import re
import subprocess
import sys

from prefect_harness import WORKER_BIN, wait_for


def clean_environment(**extra: str) -> dict:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PREFECT_", "JOURNAL_STREAM", "NOTIFY_SOCKET"))}
    env.update(extra)
    return env


def run_cli(*args: str, env: dict) -> subprocess.CompletedProcess:
    return subprocess.run([str(WORKER_BIN), *args], env=env, capture_output=True, text=True, timeout=60)


def test_a_worker_configured_by_its_file_alone_runs_flow_runs(api, server, tmp_path):
    pool = "file-configured-pool"
    config = tmp_path / "config.toml"
    config.write_text(f"""# everything from the file
api_url = "{server.url}"
pool = "{pool}"
name = "from-the-file"
limit = 1
query_seconds = 1
heartbeat_seconds = 2
python = "{sys.executable}"
state_dir = "{tmp_path / 'state'}"
log_format = "json"
""")
    log = open(tmp_path / "worker.log", "wb")
    worker = subprocess.Popen([str(WORKER_BIN), "start", "--config", str(config)], env=clean_environment(),
                              stdout=log, stderr=subprocess.STDOUT)
    try:
        wait_for(lambda: [w for w in api.workers(pool) if w["name"] == "from-the-file"], 30, "the worker named in the file")
        run_id = api.create_run(api.create_deployment(pool, job_variables={"command": "true"}))
        assert api.wait_terminal(run_id)["state_type"] == "COMPLETED"
    finally:
        worker.terminate()
        assert worker.wait(timeout=30) == 0
        log.close()


def test_config_show_says_which_layer_won_and_redacts_secrets(tmp_path):
    config = tmp_path / "config.toml"
    config.write_text('pool = "file-pool"\nlimit = 2\nquery_seconds = 4\nheartbeat_seconds = 9\n'
                      'api_key = "pnu_from_file"\napi_url = "http://127.0.0.1:1/api"\n')
    env = clean_environment(PREFECT_WORKER_CONFIG=str(config), PREFECT_WORKER_LIMIT="5", PREFECT_WORKER_QUERY_SECONDS="3",
                            PREFECT_API_AUTH_STRING="admin:secret-pw")
    shown = run_cli("config", "show", "--limit", "7", env=env)
    assert shown.returncode == 0, shown.stderr
    lines = shown.stdout.splitlines()
    assert "limit = 7  # flag --limit" in lines                               # flag > env > file
    assert "query_seconds = 3  # env PREFECT_WORKER_QUERY_SECONDS" in lines   # env > file
    assert f"heartbeat_seconds = 9  # {config} line 4" in lines              # file > default
    assert "# prefetch_seconds = (default: 10)" in lines                      # default
    assert f'api_key = "<redacted>"  # {config} line 5' in lines
    assert 'api_auth_string = "<redacted>"  # env PREFECT_API_AUTH_STRING' in lines
    assert "pnu_from_file" not in shown.stdout and "secret-pw" not in shown.stdout


def test_a_bad_config_file_is_one_line_naming_the_file_line_and_key_with_exit_code_2(tmp_path):
    config = tmp_path / "config.toml"
    for text, expected in [
        ('pool = "p"\n# a comment\nlimit = "ten"\n', f'{config} line 3: limit must be an integer (got string "ten")'),
        ('pool = "p"\nqurey_seconds = 3\n', f"{config} line 2: qurey_seconds is not a setting; did you mean query_seconds?"),
        ('pool = "p"\nevent_stream = yes\n', f"{config} line 2: value of 'event_stream' is not a TOML value"),
    ]:
        config.write_text(text)
        result = run_cli("start", "--config", str(config), env=clean_environment(PREFECT_API_URL="http://127.0.0.1:1/api"))
        assert result.returncode == 2, result
        assert result.stderr.startswith(f"prefect-worker: error: {expected}"), result.stderr
        assert result.stderr.count("\n") == 1, result.stderr
    missing = run_cli("start", "--config", str(tmp_path / "missing.toml"), env=clean_environment())
    assert missing.returncode == 2 and "--config names" in missing.stderr and missing.stderr.count("\n") == 1


def test_every_setting_has_its_flag_in_start_help_and_its_row_in_config_keys():
    keys = run_cli("config", "keys", env=clean_environment())
    help_text = run_cli("start", "--help", env=clean_environment(COLUMNS="300")).stdout
    rows = [line for line in keys.stdout.splitlines() if line.startswith("| `")]
    assert len(rows) >= 40
    for row in rows:
        flag = re.search(r"`(--[a-z-]+)`", row)
        if flag:
            assert flag.group(1) in help_text, f"{flag.group(1)} is in the catalog but not a flag of start"
        else:
            assert "secret" in row


def test_the_packaged_example_config_has_every_key_and_parses_with_each_line_uncommented(tmp_path):
    """config/config.toml (the package's /etc/prefect-worker/config.toml): every key of `config keys`,
    and every example value is of the key's type when uncommented."""
    from prefect_harness import ROOT

    example = (ROOT / "config" / "config.toml").read_text()
    keys = [re.match(r"\| `([a-z_]+)`", line).group(1)
            for line in run_cli("config", "keys", env=clean_environment()).stdout.splitlines() if line.startswith("| `")]
    assigned = re.findall(r"^#([a-z_]+) = ", example, flags=re.M)
    assert sorted(assigned) == sorted(keys), "each key once"
    assert not [line for line in example.splitlines() if line and not line.startswith("#")], "everything commented out"
    # A key and its _FILE twin cannot both be set: uncomment the files' half in a second file.
    twins = {"api_key", "api_auth_string", "client_custom_headers"}
    for half in (twins, {f"{key}_file" for key in twins}):
        uncommented = re.sub(r"^#([a-z_]+ = )", lambda m: m.group(1) if m.group(1).split(" ")[0] not in half else m.group(0),
                             example, flags=re.M)
        for name in set(re.findall(r'"/etc/prefect-worker/([a-z.-]+)"', uncommented)):  # files that must exist
            content = {"headers.json": '{"X-Team": "data"}', "base-job-template.json": '{"job_configuration": {}, "variables": {}}',
                       "profiles.toml": "[profiles.prod]\n"}.get(name, "secret\n")
            (tmp_path / name).write_text(content)
            uncommented = uncommented.replace(f'"/etc/prefect-worker/{name}"', f'"{tmp_path / name}"')
        path = tmp_path / "config.toml"
        path.write_text(uncommented)
        shown = run_cli("config", "show", "--config", str(path), env=clean_environment())
        assert shown.returncode == 0, shown.stderr
