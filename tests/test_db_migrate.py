"""`opsbook db status` and `opsbook db migrate` against the real PostgreSQL server."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import psycopg
import pytest

import forked
from conftest import run_cli
from db_support import DB_FIXTURES, SECRET, generate, make_project

pytestmark = pytest.mark.postgres


def _rows(url: str, sql: str) -> list[tuple[object, ...]]:
    with psycopg.connect(url) as conn:
        return conn.execute(sql).fetchall()


def _no_secret(*texts: str) -> None:
    for text in texts:
        assert SECRET not in text
        assert "Traceback" not in text


def test_fifty_migrations_apply_to_a_fresh_database(tmp_path: Path, fresh_pg_url: str) -> None:
    root = make_project(tmp_path / "p", fresh_pg_url)
    generate(root / "migrations", 50)
    result = run_cli(
        "db", "migrate", "--env", "local", "--json", cwd=root, env={"OPSBOOK_OPERATOR": "ada"}
    )
    assert result.returncode == 0, result.stderr
    _no_secret(result.stdout, result.stderr)
    data = json.loads(result.stdout)
    assert len(data["applied"]) == 50 and len(data["pending"]) == 50
    assert data["irreversible"] == []
    snapshot = Path(data["snapshot"])
    assert snapshot.is_file() and snapshot.parent == root / ".opsbook" / "snapshots"
    assert snapshot.read_bytes()[:5] == b"PGDMP"  # pg_dump's custom format
    log = _rows(fresh_pg_url, "SELECT migration, count(*) FROM applied_log GROUP BY 1")
    assert len(log) == 50 and all(count == 1 for _, count in log)
    history = _rows(
        fresh_pg_url,
        "SELECT name, length(checksum), operator, duration_ms >= 0 FROM opsbook.schema_migrations",
    )
    assert len(history) == 50
    assert {(length, operator, ok) for _, length, operator, ok in history} == {(64, "ada", True)}
    again = run_cli("db", "migrate", "--env", "local", cwd=root)
    assert again.returncode == 0 and "up to date" in again.stdout
    status = run_cli("db", "status", "--env", "local", "--json", cwd=root)
    assert status.returncode == 0
    assert json.loads(status.stdout)["pending"] == []


def test_failure_leaves_the_last_good_migration_and_names_the_statement(
    tmp_path: Path, fresh_pg_url: str
) -> None:
    root = make_project(tmp_path / "p", fresh_pg_url)
    generate(root / "migrations", 10)
    (root / "migrations" / "011_broken.sql").write_text(
        "CREATE TABLE half_done (id int);\n"
        "ALTER TABLE half_done ENABLE ROW LEVEL SECURITY;\n"
        "INSERT INTO applied_log VALUES ('011');\n"
        "INSERT INTO no_such_table VALUES (1);\n"
    )
    (root / "migrations" / "012_after.sql").write_text("INSERT INTO applied_log VALUES ('012');\n")
    result = run_cli("db", "migrate", "--env", "local", cwd=root)
    assert result.returncode == 1
    _no_secret(result.stdout, result.stderr)
    assert "migrations/011_broken.sql:4:" in result.stderr
    assert "`INSERT INTO no_such_table VALUES (1)`" in result.stderr
    assert 'relation "no_such_table" does not exist' in result.stderr
    assert "the database is at 010_table_10.sql" in result.stderr
    assert "snapshot taken before this run:" in result.stderr
    log = sorted(r[0] for r in _rows(fresh_pg_url, "SELECT migration FROM applied_log"))
    assert log == [f"{n:03d}" for n in range(1, 11)]
    assert _rows(fresh_pg_url, "SELECT to_regclass('public.half_done')") == [(None,)]
    status = json.loads(run_cli("db", "status", "--env", "local", "--json", cwd=root).stdout)
    assert status["pending"] == ["011_broken.sql", "012_after.sql"]


def test_two_concurrent_migrate_runs_never_both_apply(tmp_path: Path, fresh_pg_url: str) -> None:
    root = make_project(tmp_path / "p", fresh_pg_url)
    generate(root / "migrations", 30)
    for n in (2, 15, 29):  # slow a few files down so the two runs overlap
        path = root / "migrations" / f"{n:03d}_table_{n}.sql"
        path.write_text(path.read_text() + "SELECT pg_sleep(0.2);\n")
    env = {**os.environ, "NO_COLOR": "1"}
    procs = [
        forked.opsbook(
            ["db", "migrate", "--env", "local", "--json"],
            cwd=root,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for _ in range(2)
    ]
    outputs = [p.communicate(timeout=120) for p in procs]
    for proc, (out, err) in zip(procs, outputs, strict=True):
        assert proc.returncode == 0, err
        _no_secret(out, err)
    applied = [len(json.loads(out)["applied"]) for out, _ in outputs]
    assert sum(applied) == 30
    log = _rows(fresh_pg_url, "SELECT migration, count(*) FROM applied_log GROUP BY 1")
    assert len(log) == 30 and all(count == 1 for _, count in log)
    assert _rows(fresh_pg_url, "SELECT count(*) FROM opsbook.schema_migrations") == [(30,)]


def test_seed_004_folder_reports_gap_then_drift(tmp_path: Path, fresh_pg_url: str) -> None:
    root = make_project(tmp_path / "p", fresh_pg_url, DB_FIXTURES / "seed004")
    status = run_cli("db", "status", "--env", "local", cwd=root)
    assert status.returncode == 0, status.stderr
    assert "gap: migration 009 is missing between 008 and 010" in status.stdout
    assert "0 applied, 12 pending" in status.stdout
    migrate = run_cli("db", "migrate", "--env", "local", cwd=root)
    assert migrate.returncode == 0, migrate.stderr
    assert "running them one by one" in migrate.stderr  # 006 uses CONCURRENTLY
    assert "12 of 12 pending applied (1 outside a transaction)" in migrate.stdout
    edited = root / "migrations" / "003_create_vibe_configs.sql"
    edited.write_text(edited.read_text() + "-- tweaked after release\n")
    drift = run_cli("db", "status", "--env", "local", "--json", cwd=root)
    assert drift.returncode == 1
    problems = json.loads(drift.stdout)["problems"]
    assert [p["code"] for p in problems] == ["gap", "drift"]
    assert problems[1]["files"] == ["003_create_vibe_configs.sql"]
    assert "edited after it was applied" in problems[1]["message"]
    refused = run_cli("db", "migrate", "--env", "local", cwd=root)
    assert refused.returncode == 2
    assert "not migrating: 003_create_vibe_configs.sql was edited" in refused.stderr


def test_out_of_order_file_is_refused(tmp_path: Path, fresh_pg_url: str) -> None:
    root = make_project(tmp_path / "p", fresh_pg_url)
    (root / "migrations" / "001_a.sql").write_text("SELECT 1;\n")
    (root / "migrations" / "003_c.sql").write_text("SELECT 3;\n")
    assert run_cli("db", "migrate", "--env", "local", cwd=root).returncode == 0
    (root / "migrations" / "002_b.sql").write_text("SELECT 2;\n")
    status = run_cli("db", "status", "--env", "local", cwd=root)
    assert status.returncode == 1
    assert "out_of_order: 002_b.sql is pending but older than applied migrations" in status.stdout
    refused = run_cli("db", "migrate", "--env", "local", cwd=root)
    assert refused.returncode == 2 and "002_b.sql is pending but older" in refused.stderr


def test_dry_run_rolls_everything_back(tmp_path: Path, fresh_pg_url: str) -> None:
    root = make_project(tmp_path / "p", fresh_pg_url, DB_FIXTURES / "seed004")
    result = run_cli("db", "migrate", "--env", "local", "--dry-run", "--json", cwd=root)
    assert result.returncode == 0, result.stderr
    data = json.loads(result.stdout)
    assert data["dry_run"] is True and data["snapshot"] is None
    assert data["skipped"] == ["006_add_indexes.sql"]  # CONCURRENTLY cannot run in a transaction
    assert len(data["applied"]) == 11
    assert _rows(fresh_pg_url, "SELECT to_regclass('public.user_profiles')") == [(None,)]
    assert _rows(fresh_pg_url, "SELECT to_regnamespace('opsbook')") == [(None,)]
    assert not (root / ".opsbook" / "snapshots").exists()


def test_dry_run_reports_the_failing_statement(tmp_path: Path, fresh_pg_url: str) -> None:
    root = make_project(tmp_path / "p", fresh_pg_url)
    (root / "migrations" / "001_bad.sql").write_text("SELECT 1;\n\nSELECT 1/0;\n")
    result = run_cli("db", "migrate", "--env", "local", "--dry-run", cwd=root)
    assert result.returncode == 1
    assert "migrations/001_bad.sql:3: migration failed at statement `SELECT 1/0`" in result.stderr
    assert "division by zero" in result.stderr and "dry run: nothing was changed" in result.stderr


def test_status_reads_supabase_and_flyway_history(tmp_path: Path, fresh_pg_url: str) -> None:
    root = make_project(tmp_path / "p", fresh_pg_url)
    for name in ("20240101000000_init.sql", "20240201000000_users.sql"):
        (root / "migrations" / name).write_text("SELECT 1;\n")
    with psycopg.connect(fresh_pg_url, autocommit=True) as conn:
        conn.execute(
            "CREATE SCHEMA supabase_migrations;"
            "CREATE TABLE supabase_migrations.schema_migrations"
            " (version text PRIMARY KEY, statements text[], name text);"
            "INSERT INTO supabase_migrations.schema_migrations"
            " VALUES ('20240101000000', NULL, 'init');"
            "CREATE TABLE flyway_schema_history (installed_rank int, version text,"
            " description text,"
            " type text, script text, checksum int, installed_by text, installed_on timestamp,"
            " execution_time int, success bool);"
        )
    status = json.loads(run_cli("db", "status", "--env", "local", "--json", cwd=root).stdout)
    assert status["naming"] == "supabase"
    assert status["applied"] == ["20240101000000_init.sql"]
    assert status["migrations"][0]["source"] == "supabase"
    assert status["sources"] == ["supabase"]
    # opsbook records what it applies in Supabase's table too, so `supabase db push` skips it.
    assert run_cli("db", "migrate", "--env", "local", cwd=root).returncode == 0
    versions = _rows(
        fresh_pg_url, "SELECT version, name FROM supabase_migrations.schema_migrations"
    )
    assert sorted(versions) == [("20240101000000", "init"), ("20240201000000", "users")]

    flyway = make_project(tmp_path / "f", fresh_pg_url)
    (flyway / "migrations" / "V1__init.sql").write_text("SELECT 1;\n")
    (flyway / "migrations" / "V2__more.sql").write_text("SELECT 2;\n")
    with psycopg.connect(fresh_pg_url, autocommit=True) as conn:
        conn.execute(
            "INSERT INTO flyway_schema_history VALUES"
            " (1, '1', 'init', 'SQL', 'V1__init.sql', 0, 'flyway', now(), 3, true)"
        )
    status = json.loads(run_cli("db", "status", "--env", "local", "--json", cwd=flyway).stdout)
    assert status["naming"] == "flyway"
    assert status["applied"] == ["V1__init.sql"] and status["pending"] == ["V2__more.sql"]
    assert status["migrations"][0]["source"] == "flyway"


def test_unreachable_database_is_a_clear_masked_error(tmp_path: Path, fresh_pg_url: str) -> None:
    root = make_project(tmp_path / "p", fresh_pg_url.replace(":5432/", ":1/"))
    result = run_cli("db", "status", "--env", "local", cwd=root)
    assert result.returncode == 1
    assert "cannot connect to the database" in result.stderr
    _no_secret(result.stdout, result.stderr)


def test_pg_dump_server_version_mismatch_is_explained(tmp_path: Path, fresh_pg_url: str) -> None:
    """A stand-in pg_dump prints what pg_dump 15 prints against a PostgreSQL 16 server."""
    fake = tmp_path / "pg_dump"
    fake.write_text(
        "#!/bin/sh\n"
        "echo 'pg_dump: error: aborting because of server version mismatch' >&2\n"
        "echo 'pg_dump: detail: server version: 16.2; pg_dump version: 15.20' >&2\n"
        "exit 1\n"
    )
    fake.chmod(0o755)
    root = make_project(tmp_path / "p", fresh_pg_url)
    generate(root / "migrations", 2)
    result = run_cli(
        "db", "migrate", "--env", "local", cwd=root, env={"OPSBOOK_PG_DUMP": str(fake)}
    )
    assert result.returncode == 1
    assert "pg_dump 15.20 cannot dump a PostgreSQL 16.2 server" in result.stderr
    assert "install postgresql-client-16" in result.stderr
    _no_secret(result.stdout, result.stderr)
    assert _rows(fresh_pg_url, "SELECT to_regclass('public.applied_log')") == [(None,)]


def test_no_database_section_is_a_usage_error(tmp_path: Path) -> None:
    (tmp_path / "opsbook.yaml").write_text("version: 1\nproject: x\nenvironments: {local: {}}\n")
    result = run_cli("db", "status", "--env", "local", cwd=tmp_path)
    assert result.returncode == 2
    assert "opsbook.yaml: no database: section; add `database:" in result.stderr
