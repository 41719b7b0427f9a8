"""The `migrate` step kind: execute() with a real StepContext, plan marks, and `opsbook run`."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import psycopg
import pytest

from conftest import run_cli
from db_support import DB_FIXTURES, SECRET, make_project
from opsbook import environ
from opsbook.plan import expression_context
from opsbook.spec import expressions
from opsbook.spec.loader import load_spec
from opsbook.steps.base import StepContext, StepResult
from opsbook.steps.migrate import MigrateStep

pytestmark = pytest.mark.postgres


def _context(root: Path, lines: list[str]) -> StepContext:
    """A StepContext as the engine builds it: the run's renderer and the env's secrets."""
    loaded = load_spec(root / "opsbook.yaml")
    effective = environ.resolve(loaded, "local", {})
    context = expression_context(loaded, effective, {}, run={"id": "run-1"})
    return StepContext(
        run_id="run-1",
        step=loaded.spec.runbooks["release"].steps[0],
        spec=loaded.spec,
        environment="local",
        operator="grace",
        attempt=1,
        root=loaded.root,
        env=dict(effective.values),
        render=lambda text: expressions.render(text, context),
        log=lines.append,
        secrets=tuple(effective.secrets),
    )


def _execute(root: Path) -> tuple[StepResult, list[str], StepContext]:
    lines: list[str] = []
    ctx = _context(root, lines)
    return MigrateStep().execute(ctx, ctx.step.config), lines, ctx


def _rows(url: str, sql: str) -> list[tuple[Any, ...]]:
    with psycopg.connect(url) as conn:
        return conn.execute(sql).fetchall()


def test_execute_applies_and_records_the_snapshot(tmp_path: Path, fresh_pg_url: str) -> None:
    root = make_project(tmp_path / "p", fresh_pg_url, DB_FIXTURES / "seed004")
    result, lines, _ = _execute(root)
    assert result.ok, result.message
    assert result.irreversible is False
    assert result.outputs["applied"] == "12"
    snapshot = Path(result.data["snapshot"])
    assert snapshot.is_file() and result.outputs["snapshot"] == str(snapshot)
    assert "run-1" in snapshot.name
    assert any(line.startswith("snapshot: ") for line in lines)
    assert all(SECRET not in line for line in [*lines, result.message])
    rows = _rows(fresh_pg_url, "SELECT DISTINCT operator, run_id FROM opsbook.schema_migrations")
    assert rows == [("grace", "run-1")]
    again, _, _ = _execute(root)
    assert (
        again.ok and again.message == "database is up to date" and again.outputs["applied"] == "0"
    )


def test_irreversible_migration_marks_the_step(tmp_path: Path, fresh_pg_url: str) -> None:
    root = make_project(tmp_path / "p", fresh_pg_url)
    (root / "migrations" / "001_t.sql").write_text(
        "CREATE TABLE t (id int, legacy text);\nALTER TABLE t ENABLE ROW LEVEL SECURITY;\n"
    )
    first, _, ctx = _execute(root)
    assert first.ok and first.irreversible is False
    kind = MigrateStep()
    assert kind.is_irreversible(ctx.step.config, ctx.step, root, ctx.spec) is False
    (root / "migrations" / "002_drop.sql").write_text("ALTER TABLE t DROP COLUMN legacy;\n")
    assert kind.is_irreversible(ctx.step.config, ctx.step, root, ctx.spec) is True
    second, _, _ = _execute(root)
    assert second.ok and second.irreversible is True
    assert second.data["irreversible"] == ["002_drop.sql"]


def test_restore_on_rollback_restores_the_snapshot(tmp_path: Path, fresh_pg_url: str) -> None:
    root = make_project(tmp_path / "p", fresh_pg_url, extra="  restore_on_rollback: true")
    (root / "migrations" / "001_t.sql").write_text(
        "CREATE TABLE t (id int, legacy text);\nALTER TABLE t ENABLE ROW LEVEL SECURITY;\n"
        "INSERT INTO t VALUES (1, 'keep me');\n"
    )
    assert _execute(root)[0].ok
    (root / "migrations" / "002_drop.sql").write_text("ALTER TABLE t DROP COLUMN legacy;\n")
    result, _, ctx = _execute(root)
    kind = MigrateStep()
    assert result.ok and result.irreversible is False  # its rollback restores the snapshot
    assert kind.is_irreversible(ctx.step.config, ctx.step, root, ctx.spec) is False
    assert _rows(fresh_pg_url, "SELECT * FROM t") == [(1,)]
    undone = kind.rollback(ctx, ctx.step.config, result.data)
    assert undone.ok, undone.message
    assert _rows(fresh_pg_url, "SELECT * FROM t") == [(1, "keep me")]
    assert _rows(fresh_pg_url, "SELECT name FROM opsbook.schema_migrations") == [("001_t.sql",)]


def test_rollback_without_the_setting_refuses(tmp_path: Path, fresh_pg_url: str) -> None:
    root = make_project(tmp_path / "p", fresh_pg_url)
    ctx = _context(root, [])
    undone = MigrateStep().rollback(ctx, ctx.step.config, {"snapshot": "/nowhere.dump"})
    assert not undone.ok and "restore_on_rollback" in undone.message


def test_failed_migration_fails_the_step_with_its_statement(
    tmp_path: Path, fresh_pg_url: str
) -> None:
    root = make_project(tmp_path / "p", fresh_pg_url)
    (root / "migrations" / "001_bad.sql").write_text("SELECT 1;\nSELECT * FROM missing;\n")
    result, lines, _ = _execute(root)
    assert not result.ok
    assert "migrations/001_bad.sql:2: migration failed at statement `SELECT * FROM missing`" in (
        result.message
    )
    assert result.data["snapshot"] and Path(result.data["snapshot"]).is_file()
    assert all(SECRET not in line for line in [*lines, result.message])


def test_dry_run_config(tmp_path: Path, fresh_pg_url: str) -> None:
    root = make_project(tmp_path / "p", fresh_pg_url, DB_FIXTURES / "seed004")
    spec = (root / "opsbook.yaml").read_text().replace("migrate: {}", "migrate: {dry_run: true}")
    (root / "opsbook.yaml").write_text(spec)
    result, _, _ = _execute(root)
    assert result.ok and result.message == "would apply 11 migrations"
    assert "snapshot" not in result.outputs
    assert _rows(fresh_pg_url, "SELECT to_regclass('public.user_profiles')") == [(None,)]


def test_plan_marks_irreversible_without_connecting(tmp_path: Path) -> None:
    root = make_project(tmp_path / "p", "postgresql://postgres@127.0.0.1:1/nowhere")
    (root / "migrations" / "001_ok.sql").write_text("SELECT 1;\n")
    plan = json.loads(run_cli("plan", "release", "--env", "local", "--json", cwd=root).stdout)
    assert plan["steps"][0]["kind"] == "migrate" and plan["steps"][0]["irreversible"] is False
    (root / "migrations" / "002_drop.sql").write_text("DROP TABLE old_orders;\n")
    result = run_cli("plan", "release", "--env", "local", "--json", cwd=root)
    assert result.returncode == 0, result.stderr
    plan = json.loads(result.stdout)
    assert plan["steps"][0]["irreversible"] is True and plan["irreversible_point"] == "migrate"


def test_migrate_step_needs_a_database_section(tmp_path: Path) -> None:
    (tmp_path / "opsbook.yaml").write_text(
        "version: 1\nproject: x\nenvironments: {local: {}}\n"
        "runbooks:\n  release:\n    steps:\n      - id: m\n        migrate: {}\n"
    )
    result = run_cli("validate", cwd=tmp_path)
    assert result.returncode == 2
    assert "a migrate step needs a database: section" in result.stderr


def test_opsbook_run_migrates_end_to_end(tmp_path: Path, fresh_pg_url: str) -> None:
    root = make_project(tmp_path / "p", fresh_pg_url, DB_FIXTURES / "seed004")
    result = run_cli("run", "release", "--env", "local", "--json", cwd=root)
    assert result.returncode == 0, result.stdout + result.stderr
    assert SECRET not in result.stdout + result.stderr
    events = [json.loads(line) for line in result.stdout.splitlines() if line.startswith("{")]
    done = next(e for e in events if e["type"] == "step_succeeded" and e["step"] == "migrate")
    assert done["message"].startswith("applied 12 migrations; snapshot ")
    assert _rows(fresh_pg_url, "SELECT count(*) FROM opsbook.schema_migrations") == [(12,)]
    run_id = events[0]["run"]
    assert _rows(fresh_pg_url, "SELECT DISTINCT run_id FROM opsbook.schema_migrations") == [
        (run_id,)
    ]
    assert SECRET not in (root / ".opsbook" / "state.db").read_bytes().decode(errors="replace")


def test_a_failure_after_migrate_restores_the_snapshot_through_opsbook_run(
    tmp_path: Path, fresh_pg_url: str
) -> None:
    """restore_on_rollback makes the engine call the kind's own rollback when a later step fails."""
    root = make_project(tmp_path / "p", fresh_pg_url, extra="  restore_on_rollback: true")
    spec = (root / "opsbook.yaml").read_text()
    (root / "opsbook.yaml").write_text(spec + "      - {id: smoke, run: 'exit 3'}\n")
    (root / "migrations" / "001_t.sql").write_text(
        "CREATE TABLE t (id int, legacy text);\nALTER TABLE t ENABLE ROW LEVEL SECURITY;\n"
        "INSERT INTO t VALUES (1, 'keep me');\n"
    )
    plan = json.loads(run_cli("plan", "release", "--env", "local", "--json", cwd=root).stdout)
    assert plan["steps"][0]["rollback"] == "built-in (migrate)"
    result = run_cli("run", "release", "--env", "local", cwd=root)
    assert result.returncode == 1, result.stdout + result.stderr
    assert "rolled back: migrate" in result.stdout + result.stderr
    assert _rows(fresh_pg_url, "SELECT to_regclass('public.t') IS NULL") == [(True,)]
    assert SECRET not in result.stdout + result.stderr
