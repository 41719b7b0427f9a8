"""`opsbook db lint`: dangerous statements found by pglast (and squawk), and classification."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from conftest import run_cli
from db_support import DB_FIXTURES
from opsbook.db.lint import lint_files, lint_sql

LINT = DB_FIXTURES / "lint"

EXPECTED = {
    "drop_table.sql": ("drop-table", True),
    "drop_column.sql": ("drop-column", True),
    "alter_column_type.sql": ("alter-column-type", True),
    "set_not_null.sql": ("set-not-null", False),
    "add_not_null_without_default.sql": ("add-not-null-without-default", False),
    "index_not_concurrent.sql": ("index-not-concurrent", False),
    "rename_column.sql": ("rename", False),
    "rename_table.sql": ("rename", False),
    "table_without_rls.sql": ("table-without-rls", False),
}


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_each_dangerous_statement_is_flagged(name: str) -> None:
    rule, irreversible = EXPECTED[name]
    result = lint_sql((LINT / name).read_text(), name)
    assert [f.code for f in result.findings] == [rule]
    assert result.findings[0].line == 1
    assert result.findings[0].irreversible is irreversible
    assert result.classification == ("irreversible" if irreversible else "backward-compatible")


def test_clean_migration_passes_opsbook_and_squawk() -> None:
    report = lint_files([LINT / "clean.sql"])
    assert report.ok, report.findings
    assert report.files[0].classification == "backward-compatible"
    assert report.squawk is not None  # squawk-cli is a dependency: its rules ran


def test_same_file_creations_are_not_existing_tables() -> None:
    sql = (
        "CREATE TABLE t (id int);\n"
        "ALTER TABLE t ENABLE ROW LEVEL SECURITY;\n"
        "ALTER TABLE t ADD COLUMN x int NOT NULL;\n"
        "ALTER TABLE t ALTER COLUMN id SET NOT NULL;\n"
        "CREATE INDEX t_x ON t (x);\n"
    )
    assert lint_sql(sql, "x.sql").findings == []


def test_lines_skip_comments_and_private_schemas_need_no_rls() -> None:
    sql = "-- one\n/* two\n three */\n\nCREATE TABLE private.t (id int);\n\nDROP TABLE x;\n"
    findings = lint_sql(sql, "x.sql", exposed=["public"]).findings
    assert [(f.code, f.line, f.statement) for f in findings] == [("drop-table", 7, "DROP TABLE x")]
    flagged = lint_sql(sql, "x.sql", exposed=["private"]).findings
    assert [f.code for f in flagged] == ["table-without-rls", "drop-table"]


def test_syntax_error_is_a_finding() -> None:
    findings = lint_sql("SELECT 1;\nSELEC 2;\n", "bad.sql").findings
    assert [f.code for f in findings] == ["syntax-error"]


def test_squawk_rules_add_findings_opsbook_lacks(tmp_path: Path) -> None:
    sql = tmp_path / "fk.sql"
    sql.write_text("ALTER TABLE orders ADD CONSTRAINT fk FOREIGN KEY (u) REFERENCES users (id);\n")
    report = lint_files([sql])
    assert {(f.source, f.code) for f in report.findings} == {
        ("squawk", "adding-foreign-key-constraint"),
        ("squawk", "constraint-missing-not-valid"),
    }
    assert all(f.line == 1 for f in report.findings)


def test_squawk_absent_is_reported_not_fatal(tmp_path: Path) -> None:
    result = run_cli(
        "db",
        "lint",
        str(LINT / "drop_table.sql"),
        "--json",
        cwd=tmp_path,
        env={"OPSBOOK_SQUAWK": ""},
    )
    assert result.returncode == 1, result.stderr
    data = json.loads(result.stdout)
    assert data["squawk"] is None
    assert data["files"][0]["findings"][0]["code"] == "drop-table"


def test_cli_lint_exit_codes(tmp_path: Path) -> None:
    clean = run_cli("db", "lint", str(LINT / "clean.sql"), cwd=tmp_path)
    assert clean.returncode == 0, clean.stdout + clean.stderr
    assert "backward-compatible" in clean.stdout and "0 findings" in clean.stdout
    bad = run_cli("db", "lint", *[str(LINT / n) for n in sorted(EXPECTED)], cwd=tmp_path)
    assert bad.returncode == 1
    for rule, _ in EXPECTED.values():
        assert rule in bad.stdout
    assert "9 dangerous statements found" in bad.stderr


def test_cli_lint_without_files_needs_database_section(tmp_path: Path) -> None:
    (tmp_path / "opsbook.yaml").write_text("version: 1\nproject: x\n")
    result = run_cli("db", "lint", cwd=tmp_path)
    assert result.returncode == 2
    assert "nothing to lint" in result.stderr and "Traceback" not in result.stderr
