"""What a new user hit, each fixed: help in words, `runs` filters that are checked, JSON times
in ISO 8601, waves counted alike, a killed run that says how to continue, init's hint."""

from __future__ import annotations

import json
import re
import shutil
import tempfile
from pathlib import Path

import pytest

from conftest import run_cli
from engine_support import cli, crash, only_run, popen, project
from waiting import wait_until

SPEC = """\
version: 1
project: p
environments: {local: {}}
runbooks:
  release:
    params: {version: {required: true}}
    steps:
      - {id: build, run: 'true'}
      - {id: a, run: 'true', needs: [build]}
      - {id: b, run: 'true', needs: [build]}
  long:
    steps:
      - {id: slow, run: 'touch started; sleep 30'}
"""


def test_help_shows_words_not_python_types() -> None:
    for command in (["run"], ["runs"], ["init"], ["db", "lint"], ["check", "env"]):
        done = run_cli(*command, "--help", in_process=True)
        assert done.returncode == 0, done.stderr
        assert not re.search(r"<(str|int|path|list\[str\])>|\{[a-z_]+\}", done.stdout), (
            command,
            done.stdout,
        )
    usage = run_cli("run", "--help", in_process=True).stdout
    assert "Usage: opsbook run [OPTIONS] RUNBOOK" in usage
    assert "-p, --param KEY=VALUE" in usage and "-e, --env ENV" in usage
    assert "JSON lines" in usage  # run --json streams one object per event


def test_version() -> None:
    assert run_cli("--version", in_process=True).stdout == "opsbook 0.1.0\n"


def test_runs_refuses_a_state_that_does_not_exist_and_a_limit_of_zero(
    tmp_path: Path, store_url: str
) -> None:
    root = project(tmp_path, SPEC)
    env = {"OPSBOOK_DATABASE_URL": store_url}
    bogus = run_cli("runs", "--status", "bogus", cwd=root, env=env)
    assert bogus.returncode == 2
    assert "--status 'bogus' is not a run state" in bogus.stderr and "succeeded" in bogus.stderr
    zero = run_cli("runs", "-n", "0", cwd=root, env=env)
    assert zero.returncode == 2 and "--limit 0 lists nothing" in zero.stderr
    empty = run_cli("runs", "--status", "failed", cwd=root, env=env)
    assert empty.returncode == 0 and "no runs yet" in empty.stdout


@pytest.mark.store
def test_json_times_are_iso_8601_and_waves_count_from_one(tmp_path: Path, store_url: str) -> None:
    root = project(tmp_path, SPEC)
    done = cli(root, store_url, "run", "release", "-e", "local", "-p", "version=1", "--json")
    assert done.returncode == 0, done.stderr
    events = [json.loads(line) for line in done.stdout.splitlines()]
    iso = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d{3})?Z$")
    assert events and all(iso.match(e["at"]) for e in events), events[0]
    listed = cli(root, store_url, "runs", "--json")
    (run,) = json.loads(listed.stdout)
    assert iso.match(run["created_at"]) and iso.match(run["finished_at"])
    plan = json.loads(cli(root, store_url, "plan", "release", "-e", "local", "-p", "version=1",
                          "--json").stdout)  # fmt: skip
    assert {s["id"]: s["wave"] for s in plan["steps"]} == {"build": 1, "a": 2, "b": 2}
    text = cli(root, store_url, "plan", "release", "-e", "local", "-p", "version=1").stdout
    assert re.search(r"^2\s+a\s", text, re.MULTILINE), text


@pytest.mark.store
def test_a_killed_run_says_nobody_executes_it_and_how_to_continue(
    tmp_path: Path, store_url: str
) -> None:
    root = project(tmp_path, SPEC)
    proc = popen(root, store_url, "run", "long", "-e", "local")
    wait_until(lambda: (root / "started").exists(), what="the step to start")
    crash(proc)
    run = only_run(store_url)

    def listed() -> str | None:  # the dead process's lease (1 s in tests) runs out
        out = cli(root, store_url, "runs").stdout
        return out if "no executor" in out else None

    out = wait_until(listed, interval=0.2, what="the lease to expire")
    assert f"running (no executor: opsbook resume {run.id})" in out
    # a real duration (under a second it reads "992ms"), not "0s"
    assert re.search(r"(?<!\d)(?!0m?s )\d+m?s so far", out), out
    # The simulated power cut left the run's private folder, and no resume follows to remove
    # it; a real machine's reboot would clear the temp dir.
    for folder in Path(tempfile.gettempdir()).glob(f"opsbook-{run.id}-*"):
        shutil.rmtree(folder)


def test_init_on_an_existing_file_suggests_only_what_init_has(tmp_path: Path) -> None:
    (tmp_path / "opsbook.yaml").write_text("version: 1\nproject: x\n")
    done = run_cli("init", str(tmp_path))
    assert done.returncode == 2
    assert done.stderr.rstrip().endswith("pass --force to overwrite it")  # no -o: init has none


MONITORED = """\
version: 1
project: m
sources:
  app: {logs: "logs/*.jsonl"}
metrics:
  errors: {from: app, over: 5m, value: "count(*) FILTER (WHERE status >= 500)"}
alerts:
  many_errors: {when: errors > 1, for: 1m, severity: critical}
"""


def _epoch_or_offset(value: object, where: str = "") -> list[str]:
    """Where a JSON document holds a time as epoch seconds, or as ISO 8601 with +00:00."""
    if isinstance(value, dict):
        return [p for k, v in value.items() for p in _epoch_or_offset(v, f"{where}.{k}")]
    if isinstance(value, list):
        return [p for i, v in enumerate(value) for p in _epoch_or_offset(v, f"{where}[{i}]")]
    if isinstance(value, int | float) and not isinstance(value, bool) and 1e9 < value < 4e9:
        return [f"{where}={value}"]
    if isinstance(value, str) and re.match(r"^\d{4}-\d\d-\d\dT.*[+-]\d\d:\d\d$", value):
        return [f"{where}={value}"]
    return []


def test_monitoring_json_writes_times_in_iso_8601_utc(tmp_path: Path) -> None:
    """`firing_since` was epoch seconds and `now`, `from`, `to` ended in +00:00."""
    (tmp_path / "logs").mkdir()
    lines = [{"ts": f"2026-11-30T09:00:{s:02d}Z", "status": 500} for s in range(5)]
    (tmp_path / "logs" / "app.jsonl").write_text("".join(json.dumps(x) + "\n" for x in lines))
    (tmp_path / "opsbook.yaml").write_text(MONITORED)
    commands = [
        ["monitor", "eval", "--now", "2026-11-30T09:01:00Z", "--json"],
        ["monitor", "eval", "--now", "2026-11-30T09:02:30Z", "--json"],
        ["monitor", "replay", "--from", "2026-11-30T09:00:00Z", "--to", "2026-11-30T09:04:00Z",
         "--json"],
        ["alerts", "--json"],
    ]  # fmt: skip
    for args in commands:
        done = run_cli(*args, cwd=tmp_path)
        assert done.returncode in (0, 1), done.stdout + done.stderr
        document = json.loads(done.stdout)
        assert _epoch_or_offset(document) == [], args
    fired = json.loads(run_cli(*commands[1], cwd=tmp_path).stdout)["alerts"][0]
    assert fired["state"] == "firing" and fired["firing_since"] == "2026-11-30T09:02:30Z"
