"""Dangerous statements in migration files, found with PostgreSQL's own parser (pglast), plus
squawk's rules when its ``squawk`` binary (PyPI ``squawk-cli``) is installed.

opsbook's rules (a table is *existing* when the same file did not create it):

============================  ===========  =====================================================
rule                          irreversible  flags
============================  ===========  =====================================================
drop-table                    yes          ``DROP TABLE``
drop-column                   yes          ``ALTER TABLE ... DROP COLUMN``
drop-schema                   yes          ``DROP SCHEMA``
truncate                      yes          ``TRUNCATE``
alter-column-type             yes          ``ALTER COLUMN ... TYPE`` (values are converted)
set-not-null                  no           ``SET NOT NULL`` on an existing table
add-not-null-without-default  no           ``ADD COLUMN ... NOT NULL`` without ``DEFAULT``, on an
                                           existing table
index-not-concurrent          no           ``CREATE INDEX`` without ``CONCURRENTLY`` on an
                                           existing table
rename                        no           ``RENAME`` of a table, column or other object
table-without-rls             no           ``CREATE TABLE`` in an exposed schema without ``ALTER
                                           TABLE ... ENABLE ROW LEVEL SECURITY`` in the same file
syntax-error                  no           the file does not parse
============================  ===========  =====================================================

A file with an irreversible finding is classified ``irreversible``; any other file is
``backward-compatible`` (its warnings break running code at worst, they destroy no data).
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pglast
from pglast import ast as pg
from pglast import enums

from opsbook.checks.findings import Finding, Report
from opsbook.errors import UsageError
from opsbook.spec.models import Database

IRREVERSIBLE = "irreversible"
COMPATIBLE = "backward-compatible"

SQUAWK_EXCLUDED = (
    # Same checks as opsbook's own rules (reported once, by opsbook).
    "ban-drop-column",
    "ban-drop-table",
    "changing-column-type",
    "adding-required-field",
    "adding-not-nullable-field",
    "require-concurrent-index-creation",
    "renaming-column",
    "renaming-table",
    # Style preferences rather than dangers; too noisy for a release gate.
    "prefer-bigint-over-int",
    "prefer-bigint-over-smallint",
    "prefer-identity",
    "prefer-text-field",
    "prefer-timestamptz",
    "prefer-robust-stmts",
    "require-timeout-settings",
    "require-lock-timeout",
    "require-statement-timeout",
    "ban-char-field",
)


@dataclass(frozen=True)
class LintFinding(Finding):
    """One dangerous statement: the shared Finding (``code`` is the rule, such as
    ``drop-table``; ``file`` and ``line`` say where) and the statement itself."""

    statement: str = ""
    irreversible: bool = False
    source: str = "opsbook"
    """``opsbook`` or ``squawk``."""

    def __str__(self) -> str:
        return f"{self.file}:{self.line}: {self.code}: {self.message}"


def lint_finding(
    rule: str,
    file: str,
    line: int,
    message: str,
    statement: str = "",
    *,
    irreversible: bool = False,
    source: str = "opsbook",
) -> LintFinding:
    """A dangerous-statement finding (always an error: `db lint` exits 1 on any)."""
    return LintFinding(
        "error",
        rule,
        None,
        message,
        file=file,
        line=line,
        statement=statement,
        irreversible=irreversible,
        source=source,
    )


@dataclass
class FileLint:
    """The findings in one file and its classification."""

    file: str
    findings: list[LintFinding] = field(default_factory=list)

    @property
    def classification(self) -> str:
        return IRREVERSIBLE if any(f.irreversible for f in self.findings) else COMPATIBLE


@dataclass
class LintReport(Report):
    """What ``opsbook db lint`` reports: the shared Report, its findings grouped by file."""

    files: list[FileLint] = field(default_factory=list)
    squawk: str | None = None
    """squawk's version when its rules ran; None when it is not installed."""

    def to_dict(self) -> dict[str, Any]:
        return {
            "check": self.check,
            "ok": self.ok,
            "counts": self.counts(),
            "squawk": self.squawk,
            "files": [
                {
                    "file": fl.file,
                    "classification": fl.classification,
                    "findings": [f.to_dict() for f in fl.findings],
                }
                for fl in self.files
            ],
        }


def lint_report(files: list[FileLint], squawk: str | None) -> LintReport:
    return LintReport("lint", [f for fl in files for f in fl.findings], files, squawk)


@dataclass(frozen=True)
class Statement:
    """A parsed statement with its 1-based line and its text."""

    node: Any
    line: int
    text: str


_LEADING = re.compile(rb"\A(?:\s+|--[^\n]*\n?|/\*.*?\*/)*", re.DOTALL)


def statements(sql: str) -> list[Statement]:
    """The statements of a SQL text with their lines; raises pglast.parser.ParseError."""
    data = sql.encode()
    out = []
    for raw in pglast.parse_sql(sql):
        start = raw.stmt_location or 0
        end = start + raw.stmt_len if raw.stmt_len else len(data)
        chunk = data[start:end]
        skip = _LEADING.match(chunk)
        offset = start + (skip.end() if skip else 0)
        line = data.count(b"\n", 0, offset) + 1
        text = data[offset:end].decode(errors="replace").strip().rstrip(";")
        out.append(Statement(raw.stmt, line, text))
    return out


def _short(text: str, limit: int = 160) -> str:
    flat = " ".join(text.split())
    return flat if len(flat) <= limit else flat[: limit - 1] + "…"


def _relname(rel: pg.RangeVar | None) -> tuple[str | None, str]:
    if rel is None:
        return None, ""
    return rel.schemaname, rel.relname or ""


class _FileRules:
    """Applies opsbook's rules to one file's statements, in order."""

    def __init__(self, file: str, exposed: Iterable[str]) -> None:
        self.file = file
        self.exposed = set(exposed)
        self.created: set[str] = set()
        self.created_at: dict[tuple[str, str], Statement] = {}
        self.rls_enabled: set[str] = set()
        self.findings: list[LintFinding] = []

    def add(self, rule: str, stmt: Statement, message: str, irreversible: bool = False) -> None:
        self.findings.append(
            lint_finding(
                rule, self.file, stmt.line, message, _short(stmt.text), irreversible=irreversible
            )
        )

    def existing(self, rel: pg.RangeVar | None) -> bool:
        return _relname(rel)[1] not in self.created

    def check(self, stmt: Statement) -> None:
        node = stmt.node
        if isinstance(node, pg.CreateStmt):
            schema, name = _relname(node.relation)
            self.created.add(name)
            self.created_at[(schema or "public", name)] = stmt
        elif isinstance(node, pg.DropStmt):
            self._drop(node, stmt)
        elif isinstance(node, pg.TruncateStmt):
            names = ", ".join(_relname(r)[1] for r in node.relations or ())
            self.add("truncate", stmt, f"TRUNCATE {names} deletes every row", irreversible=True)
        elif isinstance(node, pg.AlterTableStmt):
            for cmd in node.cmds or ():
                self._alter(node, cmd, stmt)
        elif isinstance(node, pg.IndexStmt) and not node.concurrent:
            if self.existing(node.relation):
                self.add(
                    "index-not-concurrent",
                    stmt,
                    f"CREATE INDEX on existing table {_relname(node.relation)[1]} blocks writes "
                    "while it builds; use CREATE INDEX CONCURRENTLY (opsbook then runs the file "
                    "outside a transaction)",
                )
        elif isinstance(node, pg.RenameStmt):
            what = getattr(node.renameType, "name", "object").removeprefix("OBJECT_").lower()
            old = node.subname or _relname(node.relation)[1] or "object"
            self.add(
                "rename",
                stmt,
                f"renaming {what} {old} to {node.newname} breaks code that still uses the old "
                "name; add the new name, migrate readers, then drop the old one",
            )

    def _drop(self, node: pg.DropStmt, stmt: Statement) -> None:
        kind = node.removeType
        names = ", ".join(
            ".".join(getattr(p, "sval", str(p)) for p in obj)
            if isinstance(obj, tuple)
            else getattr(obj, "sval", str(obj))
            for obj in node.objects or ()
        )
        if kind == enums.ObjectType.OBJECT_TABLE:
            self.add("drop-table", stmt, f"DROP TABLE {names} destroys its data", True)
        elif kind == enums.ObjectType.OBJECT_SCHEMA:
            self.add("drop-schema", stmt, f"DROP SCHEMA {names} destroys its data", True)

    def _alter(self, node: pg.AlterTableStmt, cmd: Any, stmt: Statement) -> None:
        if not isinstance(cmd, pg.AlterTableCmd):
            return
        table = _relname(node.relation)[1]
        sub = cmd.subtype
        types = enums.AlterTableType
        if sub == types.AT_DropColumn:
            self.add("drop-column", stmt, f"DROP COLUMN {table}.{cmd.name} destroys its data", True)
        elif sub == types.AT_AlterColumnType:
            self.add(
                "alter-column-type",
                stmt,
                f"changing the type of {table}.{cmd.name} rewrites the table and converts its "
                "values; the old values cannot be recovered",
                True,
            )
        elif sub == types.AT_SetNotNull and self.existing(node.relation):
            self.add(
                "set-not-null",
                stmt,
                f"SET NOT NULL on {table}.{cmd.name} scans the table under an exclusive lock and "
                "fails if any row is null; add a CHECK (...) NOT VALID constraint, VALIDATE it, "
                "then set NOT NULL",
            )
        elif sub == types.AT_AddColumn and self.existing(node.relation):
            col: Any = cmd.def_
            constraints = list(getattr(col, "constraints", None) or ())
            contypes = {c.contype for c in constraints}
            not_null = getattr(col, "is_not_null", False) or (
                enums.ConstrType.CONSTR_NOTNULL in contypes
            )
            if not_null and enums.ConstrType.CONSTR_DEFAULT not in contypes:
                self.add(
                    "add-not-null-without-default",
                    stmt,
                    f"ADD COLUMN {table}.{col.colname} NOT NULL without a DEFAULT fails on a "
                    "table with rows and breaks inserts by code that does not know the column; "
                    "add a DEFAULT",
                )
        elif sub == types.AT_EnableRowSecurity:
            self.rls_enabled.add(table)

    def finish(self) -> None:
        for (schema, name), stmt in self.created_at.items():
            if schema in self.exposed and name not in self.rls_enabled:
                self.add(
                    "table-without-rls",
                    stmt,
                    f"table {schema}.{name} is created in exposed schema {schema} without "
                    f"row level security; add ALTER TABLE {name} ENABLE ROW LEVEL SECURITY "
                    "and policies in the same migration",
                )
        self.findings.sort(key=lambda f: f.line or 0)


def lint_sql(sql: str, file: str, exposed: Iterable[str] = ("public",)) -> FileLint:
    """Apply opsbook's rules to one SQL text (no squawk).

    >>> [f.code for f in lint_sql("DROP TABLE users;", "x.sql").findings]
    ['drop-table']
    """
    rules = _FileRules(file, exposed)
    try:
        parsed = statements(sql)
    except pglast.parser.ParseError as err:
        line = sql.encode()[: getattr(err, "location", 0) or 0].count(b"\n") + 1
        return FileLint(file, [lint_finding("syntax-error", file, line, f"{err}; fix the SQL")])
    for stmt in parsed:
        rules.check(stmt)
    rules.finish()
    return FileLint(file, rules.findings)


def classify(path: Path, exposed: Iterable[str] = ("public",)) -> str:
    """``irreversible`` or ``backward-compatible``, by opsbook's rules only (fast; no squawk)."""
    return lint_sql(path.read_text(encoding="utf-8"), path.name, exposed).classification


def squawk_binary() -> str | None:
    """The squawk executable: $OPSBOOK_SQUAWK, beside this Python (a venv), or on PATH."""
    configured = os.environ.get("OPSBOOK_SQUAWK")
    if configured is not None:
        return configured or None  # OPSBOOK_SQUAWK= (empty) turns squawk off
    beside = Path(sys.executable).parent / "squawk"
    if beside.is_file():
        return str(beside)
    return shutil.which("squawk")


def _squawk(paths: list[Path], names: dict[str, str]) -> tuple[str | None, list[LintFinding]]:
    binary = squawk_binary()
    if binary is None or not paths:
        return None, []
    try:
        version = subprocess.run(
            [binary, "--version"], capture_output=True, text=True, timeout=30, check=False
        ).stdout.split()[-1]
        proc = subprocess.run(
            [binary, "--reporter", "json", "--exclude=" + ",".join(SQUAWK_EXCLUDED)]
            + [str(p) for p in paths],
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
        if proc.returncode not in (0, 1):  # 1 means findings; anything else is squawk failing
            return None, []
        items = json.loads(proc.stdout or "[]")
    except (OSError, subprocess.SubprocessError, ValueError, IndexError):
        return None, []  # a broken squawk must not hide opsbook's own findings
    found = []
    for item in items:
        file = names.get(str(item.get("file")), str(item.get("file")))
        message = str(item.get("message", ""))
        if item.get("help"):
            message += f"; {item['help']}"
        found.append(
            lint_finding(
                str(item.get("rule_name", "squawk")),
                file,
                int(item.get("line", 0)) + 1,  # squawk counts lines from 0
                message,
                source="squawk",
            )
        )
    return version, found


def lint_files(
    paths: list[Path],
    exposed: Iterable[str] = ("public",),
    *,
    display: dict[Path, str] | None = None,
    use_squawk: bool = True,
) -> LintReport:
    """Lint files with opsbook's rules and, when installed, squawk's."""
    exposed = list(exposed)
    shown = {p: (display or {}).get(p, str(p)) for p in paths}
    results = [lint_sql(p.read_text(encoding="utf-8"), shown[p], exposed) for p in paths]
    version: str | None = None
    if use_squawk:
        version, extra = _squawk(paths, {str(p): shown[p] for p in paths})
        by_file = {r.file: r for r in results}
        for finding in extra:
            if finding.file in by_file:
                by_file[finding.file].findings.append(finding)
        for r in results:
            r.findings.sort(key=lambda f: (f.line, f.source != "opsbook"))
    return lint_report(results, version)


def lint_migrations(
    root: Path, config: Database | None, paths: list[Path] | None = None
) -> LintReport:
    """Lint ``paths``, or every file of the ``database.migrations`` folder when none are given.

    Without a ``database:`` section, only explicit paths can be linted (exposed schema: public).
    """
    from opsbook.db.files import discover

    exposed = config.schemas if config is not None else ["public"]
    if paths:
        missing = [p for p in paths if not p.is_file()]
        if missing:
            raise UsageError(f"no such file: {', '.join(map(str, missing))}")
        return lint_files(paths, exposed)
    if config is None:
        raise UsageError(
            "nothing to lint: pass migration files, or add a database: section to opsbook.yaml",
            hint="e.g. `opsbook db lint supabase/migrations/*.sql`",
        )
    found = discover((root / config.migrations).resolve(), config.naming, display=config.migrations)
    display = {f.path: f"{config.migrations}/{f.filename}" for f in found.files}
    return lint_files([f.path for f in found.files], exposed, display=display)
