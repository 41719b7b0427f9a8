"""Applying pending migrations: snapshot first, one transaction per migration, under a lock.

Order of work, each step only when the previous succeeded:

1. take the PostgreSQL advisory lock of this database (waiting at most ``database.lock_timeout``),
   so two ``db migrate`` runs never both apply a migration: the second one waits, then re-reads
   the history and finds nothing left to do;
2. refuse when files have duplicate versions, applied files were edited (drift), or a pending
   file is older than applied ones (out of order);
3. ``pg_dump`` a snapshot (not for ``--dry-run``, nor when nothing is pending);
4. apply each pending file in its own transaction together with its history row, so a failure
   leaves the database at the last good migration. ``BEGIN``/``COMMIT`` in a file are skipped
   (opsbook holds the transaction). A file holding a statement PostgreSQL refuses to run in a
   transaction (``CREATE INDEX CONCURRENTLY``, ``VACUUM``, ...) runs statement by statement
   outside one; a failure there leaves its earlier statements applied, and the error says so.

``dry_run`` applies everything inside one transaction that is rolled back at the end.
"""

from __future__ import annotations

import getpass
import os
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from typing import Any

import psycopg
from pglast import ast as pg
from pglast import enums
from pglast.parser import ParseError

from opsbook.db import history, lint
from opsbook.db.files import MigrationFile
from opsbook.db.snapshot import take_snapshot
from opsbook.db.status import compare, discover
from opsbook.db.target import Target, connect, describe_error
from opsbook.errors import DatabaseError, MigrationFailed, UsageError
from opsbook.wording import counted

LOCK_NAME = "opsbook.migrate"
BLOCKING = ("duplicate", "drift", "out_of_order")
"""Problems that stop a migration before anything runs."""

Log = Callable[[str], None]


@dataclass
class Applied:
    filename: str
    duration_ms: int
    statements: int
    transactional: bool = True


@dataclass
class MigrateResult:
    """What ``opsbook db migrate`` did."""

    dry_run: bool
    pending: list[str] = field(default_factory=list)
    applied: list[Applied] = field(default_factory=list)
    irreversible: list[str] = field(default_factory=list)
    """Pending files lint classified irreversible."""
    skipped: list[str] = field(default_factory=list)
    """Files a dry run could not try (they cannot run inside a transaction)."""
    snapshot: str | None = None
    warnings: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def default_operator() -> str:
    """$OPSBOOK_OPERATOR, else the login name."""
    return os.environ.get("OPSBOOK_OPERATOR") or getpass.getuser()


def _nontransactional(node: Any) -> bool:
    if isinstance(node, pg.IndexStmt | pg.DropStmt | pg.ReindexStmt):
        return bool(getattr(node, "concurrent", False)) or any(
            getattr(p, "defname", "") == "concurrently" for p in getattr(node, "params", ()) or ()
        )
    return isinstance(
        node,
        pg.VacuumStmt
        | pg.CreatedbStmt
        | pg.DropdbStmt
        | pg.AlterSystemStmt
        | pg.CreateTableSpaceStmt
        | pg.DropTableSpaceStmt,
    )


_TX_CONTROL = (
    enums.TransactionStmtKind.TRANS_STMT_BEGIN,
    enums.TransactionStmtKind.TRANS_STMT_START,
    enums.TransactionStmtKind.TRANS_STMT_COMMIT,
)


def _parse(target: Target, f: MigrationFile) -> tuple[list[lint.Statement], bool]:
    """A file's statements without BEGIN/COMMIT, and whether it can run in a transaction."""
    display = f"{target.config.migrations}/{f.filename}"
    try:
        parsed = lint.statements(f.sql())
    except ParseError as err:
        raise MigrationFailed(
            f"cannot parse: {err}; nothing of this file was applied", file=display
        ) from None
    kept = [
        s
        for s in parsed
        if not (isinstance(s.node, pg.TransactionStmt) and s.node.kind in _TX_CONTROL)
    ]
    return kept, not any(_nontransactional(s.node) for s in kept)


def _lock(conn: history.Conn, target: Target, log: Log) -> None:
    timeout_ms = int(target.config.lock_timeout * 1000)
    conn.execute(f"SET lock_timeout = {timeout_ms}")
    try:
        got = conn.execute("SELECT pg_try_advisory_lock(hashtext(%s))", (LOCK_NAME,)).fetchone()
        if not (got and got[0]):
            log("waiting for another migration of this database to finish")
            conn.execute("SELECT pg_advisory_lock(hashtext(%s))", (LOCK_NAME,))
    except psycopg.errors.LockNotAvailable:
        raise DatabaseError(
            f"another migration of this database has held its lock for more than "
            f"{target.config.lock_timeout:g}s ({_holder(conn)})",
            hint="wait for it to finish, or raise database.lock_timeout",
        ) from None
    finally:
        conn.execute("RESET lock_timeout")


def _holder(conn: history.Conn) -> str:
    row = conn.execute(
        "SELECT a.pid, a.usename, a.application_name, a.backend_start FROM pg_locks l"
        " JOIN pg_stat_activity a ON a.pid = l.pid"
        " WHERE l.locktype = 'advisory' AND l.granted AND l.objid = hashtext(%s)::oid"
        " LIMIT 1",
        (LOCK_NAME,),
    ).fetchone()
    if row is None:
        return "holder unknown"
    return f"held by pid {row[0]} user {row[1]} since {row[3]:%Y-%m-%d %H:%M:%S}"


def _fail(
    target: Target, f: MigrationFile, stmt: lint.Statement, err: psycopg.Error, note: str
) -> MigrationFailed:
    shown = " ".join(stmt.text.split())
    shown = shown if len(shown) <= 300 else shown[:299] + "…"
    return MigrationFailed(
        target.mask(f"migration failed at statement `{shown}`: {describe_error(err)}"),
        file=f"{target.config.migrations}/{f.filename}",
        line=stmt.line,
        hint=note,
    )


def migrate(
    target: Target,
    *,
    dry_run: bool = False,
    operator: str | None = None,
    run_id: str | None = None,
    log: Log = lambda line: None,
    result: MigrateResult | None = None,
) -> MigrateResult:
    """Apply the pending migrations of ``target`` (see the module docstring for the order).

    Pass ``result`` to see what was done (snapshot, files applied) when an error is raised.
    """
    operator = operator or default_operator()
    discovery = discover(target)
    result = result if result is not None else MigrateResult(dry_run)
    with connect(target) as conn:
        conn.prepare_threshold = None  # DDL is run once; never prepare it
        if not dry_run:
            history.ensure_table(conn)
        conn.add_notice_handler(lambda d: log(target.mask(f"notice: {d.message_primary}")))
        _lock(conn, target, log)
        # Read history only under the lock: a run that waited sees what the other one applied.
        status = compare(discovery, history.read_all(conn), target.config.migrations)
        blocking = [p for p in status.problems if p.code in BLOCKING]
        if blocking:
            raise UsageError(
                "not migrating: " + "; ".join(p.message for p in blocking),
                file=target.config.migrations,
            )
        result.warnings = [p.message for p in status.problems]
        pending = [f for f in discovery.files if f.filename in set(status.pending)]
        result.pending = [f.filename for f in pending]
        exposed = target.config.schemas
        result.irreversible = [
            f.filename for f in pending if lint.classify(f.path, exposed) == lint.IRREVERSIBLE
        ]
        if not pending:
            log("database is up to date")
            return result
        parsed = {f.filename: _parse(target, f) for f in pending}
        if dry_run:
            _dry_run(conn, target, pending, parsed, result, log)
            return result
        result.snapshot = str(take_snapshot(target, run_id or "manual"))
        log(f"snapshot: {result.snapshot}")
        supabase = discovery.naming == "supabase"
        for f in pending:
            try:
                done = _apply(conn, target, f, parsed[f.filename], operator, run_id, log, supabase)
            except MigrationFailed as failed:
                raise MigrationFailed(
                    failed.message,
                    file=failed.file,
                    line=failed.line,
                    hint=f"{failed.hint}; snapshot taken before this run: {result.snapshot}",
                ) from None
            result.applied.append(done)
    return result


def _apply(
    conn: history.Conn,
    target: Target,
    f: MigrationFile,
    parsed: tuple[list[lint.Statement], bool],
    operator: str,
    run_id: str | None,
    log: Log,
    supabase: bool,
) -> Applied:
    stmts, transactional = parsed
    started = time.monotonic()
    last_good = _last_good(conn)
    if transactional:
        stmt = None
        try:
            with conn.transaction():
                for stmt in stmts:
                    conn.execute(stmt.text)
                _record(conn, f, stmts, started, operator, run_id, supabase)
        except psycopg.Error as err:
            if stmt is None:
                raise
            raise _fail(
                target,
                f,
                stmt,
                err,
                f"this file was rolled back; the database is at {last_good}; "
                "fix the file and migrate again",
            ) from None
    else:
        log(
            f"{f.filename}: holds statements that cannot run in a transaction; "
            "running them one by one"
        )
        for done, stmt in enumerate(stmts):
            try:
                conn.execute(stmt.text)
            except psycopg.Error as err:
                raise _fail(
                    target,
                    f,
                    stmt,
                    err,
                    "this file ran outside a transaction: its first"
                    f" {counted(done, 'statement')} stay applied and it is not recorded;"
                    " make them idempotent and migrate again",
                ) from None
        with conn.transaction():
            _record(conn, f, stmts, started, operator, run_id, supabase)
    applied = Applied(f.filename, _ms(started), len(stmts), transactional)
    log(f"applied {f.filename} ({applied.duration_ms} ms)")
    return applied


def _record(
    conn: history.Conn,
    f: MigrationFile,
    stmts: list[lint.Statement],
    started: float,
    operator: str,
    run_id: str | None,
    supabase: bool,
) -> None:
    history.record(
        conn,
        name=f.filename,
        version=f.version,
        checksum=f.checksum,
        duration_ms=_ms(started),
        operator=operator,
        run_id=run_id,
    )
    if supabase:
        history.record_supabase(
            conn, version=f.version, name=f.description, statements=[s.text for s in stmts]
        )


def _last_good(conn: history.Conn) -> str:
    rows = history.read_opsbook(conn)
    return f"{rows[-1].name}" if rows else "no migration applied by opsbook"


def _ms(started: float) -> int:
    return int((time.monotonic() - started) * 1000)


class _DryRunDone(Exception):
    """Raised to roll back the dry run's outer transaction."""


def _dry_run(
    conn: history.Conn,
    target: Target,
    pending: list[MigrationFile],
    parsed: dict[str, tuple[list[lint.Statement], bool]],
    result: MigrateResult,
    log: Log,
) -> None:
    try:
        with conn.transaction():
            for f in pending:
                stmts, transactional = parsed[f.filename]
                if not transactional:
                    result.skipped.append(f.filename)
                    log(f"{f.filename}: skipped by the dry run (cannot run in a transaction)")
                    continue
                started = time.monotonic()
                stmt = None
                try:
                    with conn.transaction():
                        for stmt in stmts:
                            conn.execute(stmt.text)
                except psycopg.Error as err:
                    if stmt is None:
                        raise
                    raise _fail(
                        target, f, stmt, err, "dry run: nothing was changed; fix the file"
                    ) from None
                result.applied.append(Applied(f.filename, _ms(started), len(stmts)))
                log(f"dry run: {f.filename} applies cleanly ({_ms(started)} ms)")
            raise _DryRunDone
    except _DryRunDone:
        log("dry run: rolled back")
