"""examples/shop: its opsbook.yaml validates and plans, and the service and its scripts work.

Everything is real: the `opsbook` command in a subprocess, the shop's server on a free
127.0.0.1 port, its shell scripts against SQLite files in a temporary copy of the example.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import socket
import subprocess
import sys
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from conftest import REPO, run_cli
from waiting import wait_until

EXAMPLE = REPO / "examples" / "shop"
RELEASE_STEPS = [
    "env",
    "lint",
    "test",
    "preflight",
    "backup",
    "migrate",
    "deploy",
    "verify",
    "soak",
]


@pytest.fixture
def shop(tmp_path: Path) -> Path:
    """A clean copy of the example: runtime state and env files land in tmp, not the repo."""
    copy = tmp_path / "shop"
    shutil.copytree(
        EXAMPLE, copy, ignore=shutil.ignore_patterns(".state", ".env.local", "__pycache__")
    )
    return copy


@pytest.fixture
def port() -> int:
    """A port free right now on 127.0.0.1 (the OS picks it)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        free: int = sock.getsockname()[1]
        return free


def script_env(**extra: str) -> dict[str, str]:
    """The environment for the shop's scripts: this interpreter, nothing from the shop leaking."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SHOP_", "DATABASE_PATH"))}
    return {**env, "PYTHON": sys.executable, **extra}


def sh(shop: Path, *args: str, **extra: str) -> subprocess.CompletedProcess[str]:
    """Run one of the shop's scripts, from an unrelated cwd (they must not depend on it)."""
    return subprocess.run(
        [str(shop / "scripts" / args[0]), *args[1:]],
        cwd=shop.parent,
        env=script_env(**extra),
        capture_output=True,
        text=True,
        timeout=120,
    )


def get(port: int, path: str) -> tuple[int, Any]:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=5) as reply:
            return reply.status, json.load(reply)
    except urllib.error.HTTPError as err:
        with err:
            return err.code, json.load(err)


def wait_until_serving(port: int, proc: subprocess.Popen[str] | None = None) -> None:
    """Poll /health until it answers; bounded, so a server that never starts fails the test."""

    def serving() -> bool:
        if proc is not None and proc.poll() is not None:
            pytest.fail(f"server exited with {proc.returncode}")
        try:
            get(port, "/health")
        except OSError:
            return False
        return True

    wait_until(serving, interval=0.1, what=f"the server on port {port}")


def read_env_file(path: Path) -> dict[str, str]:
    pairs = (line.split("=", 1) for line in path.read_text().splitlines() if "=" in line)
    return {k: v for k, v in pairs if not k.startswith("#")}


# --- the opsbook.yaml --------------------------------------------------------------------------


def test_the_example_validates() -> None:
    result = run_cli("validate", "-f", str(EXAMPLE / "opsbook.yaml"))
    assert result.returncode == 0, result.stderr
    assert "is valid: 4 runbooks" in result.stdout


def test_plan_json_lists_every_step_with_wave_and_markers_and_no_env_value(shop: Path) -> None:
    made = sh(shop, "make-env.sh")
    assert made.returncode == 0, made.stderr
    # The seven placeholders got random values (the others are plain settings, not secrets).
    values = {k: v for k, v in read_env_file(shop / ".env.local").items() if len(v) > 30}
    assert len(values) == 7

    result = run_cli(
        "plan", "release", "--env", "local", "-p", "version=2", "-f", "opsbook.yaml", "--json",
        cwd=shop,
    )  # fmt: skip

    assert result.returncode == 0, result.stderr
    plan = json.loads(result.stdout)
    steps = {s["id"]: s for s in plan["steps"]}
    assert [s["id"] for s in plan["steps"]] == RELEASE_STEPS
    assert {sid: s["wave"] for sid, s in steps.items()} == {
        "env": 1, "lint": 1, "test": 1, "preflight": 2, "backup": 3,
        "migrate": 4, "deploy": 5, "verify": 6, "soak": 7,
    }  # fmt: skip
    assert steps["deploy"]["rollback"] == "./scripts/deploy.sh previous"
    assert steps["deploy"]["action"] == './scripts/deploy.sh "2"'
    assert [sid for sid, s in steps.items() if s["irreversible"]] == ["migrate"]
    assert [sid for sid, s in steps.items() if s["rollback"]] == ["deploy"]
    assert plan["irreversible_point"] == "migrate"
    assert steps["preflight"]["will_run"] is False  # local is not protected
    assert plan["warnings"] == []  # the env file was found, so its values were loaded
    for name, value in values.items():
        assert value not in result.stdout + result.stderr, f"{name}'s value leaked"


def test_plan_for_production_asks_a_human_for_the_checklist() -> None:
    result = run_cli(
        "plan", "release", "--env", "production", "-p", "version=2",
        "-f", str(EXAMPLE / "opsbook.yaml"), "--json",
    )  # fmt: skip

    assert result.returncode == 0, result.stderr
    plan = json.loads(result.stdout)
    assert plan["gates"] == ["preflight"]
    preflight = next(s for s in plan["steps"] if s["id"] == "preflight")
    assert preflight["will_run"] is True
    assert len(preflight["gate"]) == 4


def test_plan_without_version_is_refused() -> None:
    result = run_cli("plan", "release", "--env", "local", "-f", str(EXAMPLE / "opsbook.yaml"))
    assert result.returncode == 2
    assert "version" in result.stderr


@pytest.mark.parametrize("runbook", ["rollback", "status"])
def test_the_other_runbooks_plan(runbook: str) -> None:
    result = run_cli(
        "plan", runbook, "--env", "local", "-f", str(EXAMPLE / "opsbook.yaml"), "--json"
    )
    assert result.returncode == 0, result.stderr
    plan = json.loads(result.stdout)
    assert plan["locks_environment"] is (runbook == "rollback")


# One broken copy holding all four mistakes; each line names what it breaks.
BREAKAGES = [
    (
        "        run: ./scripts/lint.sh\n        needs: []\n",
        "        run: ./scripts/lint.sh\n        needs: [soak]\n",
        "needs: [soak]",
        "dependency cycle: lint → soak → verify → deploy → migrate → backup → preflight → lint",
    ),
    ("        timeout: 5m\n", "        timout: 5m\n", "timout: 5m", "did you mean 'timeout'?"),
    (
        "        needs: [deploy]\n        check: [health",
        "        needs: [deploy, deplyo]\n        check: [health",
        "needs: [deploy, deplyo]",
        "unknown step 'deplyo'; did you mean 'deploy'?",
    ),
    ("        wait: 2s\n", "        wait: 2 secs\n", "wait: 2 secs", "'2 secs' is not a duration"),
]


def test_a_broken_copy_names_each_offending_line(tmp_path: Path) -> None:
    text = (EXAMPLE / "opsbook.yaml").read_text()
    for old, new, _, _ in BREAKAGES:
        assert text.count(old) == 1, f"the example changed; update BREAKAGES for {old!r}"
        text = text.replace(old, new)
    (tmp_path / "opsbook.yaml").write_text(text)
    lines = text.splitlines()
    expected = {
        lines.index(next(line for line in lines if line.strip() == marker)) + 1: message
        for _, _, marker, message in BREAKAGES
    }

    result = run_cli("validate", "-f", "opsbook.yaml", cwd=tmp_path)

    assert result.returncode == 2
    messages = [
        line for line in result.stderr.splitlines() if not re.fullmatch(r"\d+ problems?", line)
    ]
    assert len(messages) == 4, result.stderr
    found = {}
    for message in messages:
        match = re.match(r"opsbook\.yaml:(\d+): ", message)
        assert match, f"does not start with opsbook.yaml:<line>: {message}"
        found[int(match.group(1))] = message
    assert sorted(found) == sorted(expected)
    for line, fragment in expected.items():
        assert fragment in found[line]


# --- the service and its scripts -----------------------------------------------------------------


def test_server_answers_its_endpoints_and_never_prints_a_secret(
    shop: Path, port: int, tmp_path: Path
) -> None:
    db = tmp_path / "shop.db"
    assert sh(shop, "migrate.sh", DATABASE_PATH=str(db)).returncode == 0
    planted = "sk_planted_b64c0ffee0123456789"
    log = tmp_path / "logs" / "shop.jsonl"  # the server's request log, never in the checkout
    env = script_env(
        SHOP_PORT=str(port),
        DATABASE_PATH=str(db),
        SHOP_VERSION="9",
        SENTRY_DSN=planted,
        SHOP_LOG=str(log),
    )
    proc = subprocess.Popen(
        [sys.executable, str(shop / "app" / "server.py")],
        env=env,
        cwd=tmp_path,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        wait_until_serving(port, proc)
        assert get(port, "/health") == (200, {"status": "ok", "version": "9"})
        assert get(port, "/version") == (200, {"version": "9"})
        code, health = get(port, "/api/health")
        assert code == 200
        assert health["providers"]["database"]["status"] == "healthy"
        assert "unavailable" not in {p["status"] for p in health["providers"].values()}
        code, products = get(port, "/api/products")
        assert code == 200 and len(products["products"]) == 3
    finally:
        proc.terminate()
        output, _ = proc.communicate(timeout=30)
    assert f"listening on http://127.0.0.1:{port}" in output
    assert "SENTRY_DSN" in output and planted not in output
    logged = [json.loads(line) for line in log.read_text().splitlines()]
    assert {"route": "/version", "status": 200} in [
        {k: entry[k] for k in ("route", "status")} for entry in logged
    ]
    assert planted not in log.read_text()


def test_migrate_twice_applies_nothing_the_second_time(shop: Path, tmp_path: Path) -> None:
    db = str(tmp_path / "data" / "shop.db")
    first = sh(shop, "migrate.sh", DATABASE_PATH=db)
    second = sh(shop, "migrate.sh", DATABASE_PATH=db)
    assert first.returncode == 0 and second.returncode == 0, first.stderr + second.stderr
    assert "3 migrations applied; schema at 003" in first.stdout
    assert second.stdout.strip() == "0 migrations applied; schema at 003"


def test_backup_copies_the_database(shop: Path) -> None:
    assert "nothing to back up" in sh(shop, "backup.sh", "r0").stdout
    assert sh(shop, "migrate.sh").returncode == 0
    result = sh(shop, "backup.sh", "r1")
    assert result.returncode == 0, result.stderr
    assert (shop / ".state" / "backups" / "r1.db").stat().st_size > 0
    assert sh(shop, "backup.sh", "../escape").returncode == 2


@pytest.fixture
def deployed(shop: Path, port: int) -> Iterator[Path]:
    """The shop copy; whatever deploy.sh started is stopped afterwards, pass or fail."""
    try:
        yield shop
    finally:
        sh(shop, "stop.sh", SHOP_PORT=str(port))


def test_deploy_then_previous_switches_versions(deployed: Path, port: int) -> None:
    shop, env = deployed, {"SHOP_PORT": str(port)}
    assert sh(shop, "migrate.sh").returncode == 0
    for version in ("1", "2"):
        result = sh(shop, "deploy.sh", version, **env)
        assert result.returncode == 0, result.stdout + result.stderr
    assert get(port, "/version") == (200, {"version": "2"})
    assert (shop / ".state" / "previous").read_text().strip() == "1"

    result = sh(shop, "deploy.sh", "previous", **env)

    assert result.returncode == 0, result.stdout + result.stderr
    assert "rolling back from 2 to 1" in result.stdout
    assert get(port, "/version") == (200, {"version": "1"})
    assert (shop / ".state" / "current").read_text().strip() == "1"
    assert (shop / ".state" / "previous").read_text().strip() == "2"
    assert "current: 1, running" in sh(shop, "status.sh", **env).stdout


def test_rollback_without_a_previous_release_fails_clearly(deployed: Path, port: int) -> None:
    result = sh(deployed, "deploy.sh", "previous", SHOP_PORT=str(port))
    assert result.returncode == 1
    assert "nothing to roll back to" in result.stderr
    assert sh(deployed, "deploy.sh", "../../x", SHOP_PORT=str(port)).returncode == 2


def test_rolling_back_the_first_deploy_stops_it(deployed: Path, port: int) -> None:
    env = {"SHOP_PORT": str(port)}
    assert sh(deployed, "deploy.sh", "1", **env).returncode == 0
    assert get(port, "/version") == (200, {"version": "1"})

    result = sh(deployed, "deploy.sh", "previous", **env)

    assert result.returncode == 0, result.stderr
    assert "rolled back 1, the first release" in result.stdout
    with pytest.raises(OSError):
        get(port, "/health")
    assert "current: none, not running" in sh(deployed, "status.sh", **env).stdout


def test_a_deploy_that_never_gets_healthy_fails_within_its_bound(deployed: Path, port: int) -> None:
    # A foreign listener holds the port: the new server cannot bind and exits.
    with socket.socket() as blocker:
        blocker.bind(("127.0.0.1", port))
        blocker.listen()
        result = sh(deployed, "deploy.sh", "3", SHOP_PORT=str(port), SHOP_DEPLOY_TIMEOUT="5")
    assert result.returncode == 1
    assert "deploy:" in result.stderr
    assert not (deployed / ".state" / "current").exists()


def test_lint_and_the_apps_own_tests_pass(shop: Path) -> None:
    lint = sh(shop, "lint.sh")
    assert lint.returncode == 0, lint.stderr
    assert "3 migrations numbered 001..003" in lint.stdout
    tests = sh(shop, "test.sh")
    assert tests.returncode == 0, tests.stderr
    assert re.search(r"Ran \d+ tests", tests.stderr) and "OK" in tests.stderr


def test_lint_refuses_a_gap_in_migration_numbers(shop: Path) -> None:
    (shop / "migrations" / "005_oops.sql").write_text("SELECT 1;")
    result = sh(shop, "lint.sh")
    assert result.returncode == 1
    assert "without gaps" in result.stderr


def test_make_env_is_idempotent_and_example_holds_no_real_values(shop: Path) -> None:
    assert sh(shop, "make-env.sh").returncode == 0
    first = (shop / ".env.local").read_text()
    again = sh(shop, "make-env.sh")
    assert again.returncode == 0 and "kept" in again.stdout
    assert (shop / ".env.local").read_text() == first
    example = read_env_file(shop / ".env.example")
    # Every credential is a placeholder; the rest are the contract's own defaults.
    settings = {k: v for k, v in example.items() if v != "changeme"}
    assert settings == {
        "POSTHOG_HOST": "https://app.posthog.com",
        "DATABASE_PATH": ".state/shop.db",
        "SHOP_PORT": "8081",
    }
    assert read_env_file(shop / ".env.local").keys() == read_env_file(shop / ".env.example").keys()


def test_runtime_state_and_env_file_are_gitignored() -> None:
    paths = ["examples/shop/.state/shop.db", "examples/shop/.env.local"]
    result = subprocess.run(
        ["git", "check-ignore", *paths], cwd=REPO, capture_output=True, text=True
    )
    assert result.stdout.split() == paths


@pytest.mark.slow
def test_the_readme_by_hand_block_runs(shop: Path, port: int) -> None:
    readme = (EXAMPLE / "README.md").read_text()
    block = readme.split("## By hand", 1)[1].split("```bash\n", 1)[1].split("```", 1)[0]
    try:
        result = subprocess.run(
            ["bash", "-euo", "pipefail", "-c", block],
            cwd=shop,
            env=script_env(SHOP_PORT=str(port)),
            capture_output=True,
            text=True,
            timeout=300,
        )
    finally:
        sh(shop, "stop.sh")
    assert result.returncode == 0, result.stdout + result.stderr
    assert '{"version": "2"}' in result.stdout
    assert "rolling back from 2 to 1" in result.stdout
    assert "current: 1, running" in result.stdout


def test_a_misspelt_param_in_an_expected_value_is_caught(tmp_path: Path) -> None:
    # The version check compares /version with ${{ params.version }}: the template in expect
    # must be validated like the one in http.
    text = (EXAMPLE / "opsbook.yaml").read_text()
    expected = 'json: {version: "${{ params.version }}"}'
    assert text.count(expected) == 1
    text = text.replace(expected, expected.replace("params.version", "params.versoin"))
    (tmp_path / "opsbook.yaml").write_text(text)
    line = next(i for i, row in enumerate(text.splitlines(), 1) if "versoin" in row)

    result = run_cli("validate", "-f", "opsbook.yaml", cwd=tmp_path)

    assert result.returncode == 2
    assert result.stderr.startswith(
        f"opsbook.yaml:{line}: checks.version.expect.json.version: "
        "undefined parameter 'params.versoin'; did you mean 'version'?"
    )


def test_the_readme_opsbook_commands_run() -> None:
    readme = (EXAMPLE / "README.md").read_text()
    block = readme.split("## With opsbook", 1)[1].split("```bash\n", 1)[1].split("```", 1)[0]
    commands = block.strip().splitlines()
    assert len(commands) == 3
    for command in commands:
        args = command.split()
        assert args[0] == "opsbook"
        result = run_cli(*args[1:], cwd=REPO)
        assert result.returncode == 0, f"{command}: {result.stderr}"
        if "--json" in args:
            assert json.loads(result.stdout)["gates"] == ["preflight"]


def test_the_example_passes_its_own_preflight_checks(shop: Path) -> None:
    made = subprocess.run(
        [str(shop / "scripts" / "make-env.sh")],
        env=script_env(),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert made.returncode == 0, made.stderr
    done = run_cli("check", "all", "--env", "local", cwd=shop)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "check dotenv-example passed" in done.stdout
