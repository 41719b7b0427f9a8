"""`opsbook db rls`: row level security audit of a real PostgreSQL database."""

from __future__ import annotations

import json
from pathlib import Path

import psycopg
import pytest

from conftest import run_cli
from db_support import DB_FIXTURES, SECRET, make_project

pytestmark = pytest.mark.postgres


def _load(url: str, sql: str) -> None:
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute(sql)


def test_rls_reports_each_kind_of_gap(tmp_path: Path, fresh_pg_url: str) -> None:
    _load(fresh_pg_url, (DB_FIXTURES / "rls" / "schema.sql").read_text())
    root = make_project(tmp_path / "p", fresh_pg_url)
    result = run_cli("db", "rls", "--env", "local", "--json", cwd=root)
    assert result.returncode == 1, result.stderr
    assert SECRET not in result.stdout + result.stderr
    report = json.loads(result.stdout)
    found = {(f["code"], f["table"]) for f in report["findings"]}
    assert found == {
        ("rls-disabled", "public.open_notes"),
        ("no-policy", "public.locked_box"),
        ("anon-write", "public.guestbook"),
    }
    assert report["tables"] == 4  # private.internal is not in an exposed schema
    text = run_cli("db", "rls", "--env", "local", cwd=root)
    assert text.returncode == 1
    assert "policy 'anyone_signs' lets anon insert rows" in text.stdout
    assert "4 tables in public, 3 findings" in text.stdout


def test_using_true_and_public_writes(tmp_path: Path, fresh_pg_url: str) -> None:
    _load(
        fresh_pg_url,
        "CREATE TABLE posts (id int, author text);"
        "ALTER TABLE posts ENABLE ROW LEVEL SECURITY;"
        "CREATE POLICY read_all ON posts FOR SELECT USING (true);"
        "CREATE POLICY anyone_edits ON posts FOR UPDATE USING (true);"
        "CREATE POLICY own_delete ON posts FOR DELETE USING (author = current_user);",
    )
    root = make_project(tmp_path / "p", fresh_pg_url)
    report = json.loads(run_cli("db", "rls", "--env", "local", "--json", cwd=root).stdout)
    found = sorted((f["code"], f["policy"]) for f in report["findings"])
    assert found == [
        ("anon-write", "anyone_edits"),
        ("using-true", "anyone_edits"),
        ("using-true", "read_all"),
    ]


def test_clean_schema_exits_zero(tmp_path: Path, fresh_pg_url: str) -> None:
    _load(
        fresh_pg_url,
        "CREATE TABLE diaries (id int, owner text);"
        "ALTER TABLE diaries ENABLE ROW LEVEL SECURITY;"
        "CREATE POLICY own ON diaries FOR ALL USING (owner = current_user);",
    )
    root = make_project(tmp_path / "p", fresh_pg_url)
    result = run_cli("db", "rls", "--env", "local", cwd=root)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "1 tables in public, 0 findings" in result.stdout
