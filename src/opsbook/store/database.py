"""Opening the store: one factory chooses the backend by URL.

SQLite (the embedded default) lives at ``.opsbook/state.db`` beside opsbook.yaml, in WAL mode,
with every transaction started ``BEGIN IMMEDIATE`` so concurrent writers wait for each other
instead of failing. ``OPSBOOK_DATABASE_URL=postgresql://...`` moves the store to PostgreSQL.
"""

from __future__ import annotations

import json
import os
import sqlite3
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, Engine, create_engine, event, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import (
    ArgumentError,
    DatabaseError,
    DataError,
    DBAPIError,
    OperationalError,
    SQLAlchemyError,
)

from opsbook.errors import StoreError, UsageError
from opsbook.store import migrations

URL_ENV = "OPSBOOK_DATABASE_URL"
LOCK_WAIT_ENV = "OPSBOOK_STORE_LOCK_WAIT"
DEFAULT_PATH = Path(".opsbook") / "state.db"
_MIGRATION_LOCK = 0x0B5B00C  # advisory lock id serialising store migrations on PostgreSQL


def default_url(root: Path) -> str:
    """The embedded default for a project whose opsbook.yaml is in ``root``."""
    return f"sqlite:///{(root / DEFAULT_PATH).resolve()}"


def normalize_url(url: str) -> str:
    """Pick the driver opsbook ships with: psycopg 3 for PostgreSQL."""
    try:
        parsed = make_url(url)
    except ArgumentError:
        raise UsageError(
            f"{URL_ENV} is not a database URL",
            hint="use postgresql://USER@HOST/DB or sqlite:///PATH",
        ) from None
    if parsed.drivername in ("postgresql", "postgres", "postgresql+psycopg2"):
        parsed = parsed.set(drivername="postgresql+psycopg")
    if parsed.get_backend_name() not in ("sqlite", "postgresql"):
        raise UsageError(
            f"unsupported store backend '{parsed.get_backend_name()}'",
            hint="use postgresql://... or sqlite:///...",
        )
    return parsed.render_as_string(hide_password=False)


class Store:
    """A migrated connection pool to opsbook's own tables."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    @property
    def dialect(self) -> str:
        return self.engine.dialect.name

    @property
    def display_url(self) -> str:
        """The URL as the user wrote it (without opsbook's driver name), password hidden."""
        url = self.engine.url
        if url.drivername == "postgresql+psycopg":
            url = url.set(drivername="postgresql")
        return url.render_as_string(hide_password=True)

    @contextmanager
    def begin(self, on: Connection | None = None) -> Iterator[Connection]:
        """A write transaction (on a pooled connection, or on ``on``, a connection the caller
        holds); driver errors become StoreError."""
        earlier = sys.exc_info()[1]  # a Ctrl-C being handled already is not this block's
        try:
            if on is not None:
                with _transaction(on, earlier):
                    yield on
                return
            with self.engine.connect() as conn, _transaction(conn, earlier):
                yield conn
        except DatabaseError as err:
            raise self._store_error(err, earlier) from None
        except json.JSONDecodeError as err:
            raise _damaged(err) from None

    def _store_error(self, err: DatabaseError, earlier: BaseException | None) -> BaseException:
        """What a driver error means to the caller. A Ctrl-C (or a SIGTERM, which a run turns
        into one) that cut a query in the middle leaves the connection busy, and the next thing
        done with it fails: the rollback of the block ("another command is already in
        progress"), or the pool's check before a use, whose ``finally`` cannot switch
        autocommit back ("can't change 'autocommit' now"). That failure is the interrupt, raised
        as such: as a store error it failed the step being recorded and rolled the release
        back. A Ctrl-C that was being handled before the block began (``earlier``) is not
        one: a store that fails while a run records its interruption is a store error."""
        if _interrupted(err, earlier):
            return KeyboardInterrupt()
        if isinstance(err, OperationalError):
            return self._unavailable(err)
        return _damaged(err)

    def _unavailable(self, err: OperationalError) -> StoreError:
        if _lock_timeout(err):
            reason = str(err.orig).strip().splitlines()[0]  # without PostgreSQL's CONTEXT line
            return StoreError(
                f"the store stayed locked for {lock_wait():g} s ({self.display_url}): another"
                f" transaction held a lock this one needed ({reason})",
                hint="another opsbook process, or a database session left open, holds it (on"
                " PostgreSQL: pg_stat_activity); a run it stopped resumes with `opsbook resume`;"
                f" {LOCK_WAIT_ENV} sets the wait",
            )
        reason = " ".join(str(err.orig).split())  # drivers answer over several lines
        return StoreError(
            f"store unavailable ({self.display_url}): {reason}",
            hint=f"check {URL_ENV} / --store and that the server is running",
        )

    @contextmanager
    def read(self) -> Iterator[Connection]:
        """A read-only transaction. On SQLite it starts deferred (plain BEGIN), so readers
        (``serve``'s pages and event streams) never wait for the write lock that every
        :meth:`begin` takes; in WAL mode they read the last committed state."""
        earlier = sys.exc_info()[1]
        try:
            with (
                self.engine.connect().execution_options(opsbook_read=True) as conn,
                _transaction(conn, earlier),
            ):
                yield conn
        except DatabaseError as err:
            raise self._store_error(err, earlier) from None
        except json.JSONDecodeError as err:
            raise _damaged(err) from None

    def close(self) -> None:
        self.engine.dispose()

    def migrate(self) -> None:
        with self.begin() as conn:
            if self.dialect == "postgresql":
                conn.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": _MIGRATION_LOCK})
            migrations.migrate(conn)


def lock_wait() -> float:
    """Seconds a statement waits for another transaction's lock before it fails, on both
    backends (``$OPSBOOK_STORE_LOCK_WAIT``, default 30): SQLite's busy timeout, PostgreSQL's
    ``lock_timeout``. Without it a transaction left open on PostgreSQL (a session, a process
    stopped in a debugger) would hold every opsbook command waiting for ever."""
    raw = os.environ.get(LOCK_WAIT_ENV, "").strip() or "30"
    try:
        seconds = float(raw)
    except ValueError:
        seconds = -1.0
    if not 0 < seconds <= 3600:
        raise UsageError(
            f"{LOCK_WAIT_ENV}={raw[:40]!r} is not a number of seconds from 0 to 3600",
            hint=f"unset it for the default (30), or set e.g. {LOCK_WAIT_ENV}=60",
        )
    return seconds


def _lock_timeout(err: OperationalError) -> bool:
    """Whether a statement gave up waiting for a lock: PostgreSQL's lock_not_available
    (``lock_timeout``), SQLite's busy timeout."""
    if getattr(err.orig, "sqlstate", None) == "55P03":
        return True
    return isinstance(err.orig, sqlite3.OperationalError) and "database is locked" in str(err.orig)


def _set_wal(cursor: Any, wait: float) -> None:
    """Switch to WAL. Switching needs an exclusive lock and SQLite answers "database is locked"
    at once, without the busy handler, when two processes open a new store together (two
    `opsbook run` started at the same moment): so wait and retry, for up to ``wait`` seconds (the
    busy timeout)."""
    deadline = time.monotonic() + wait
    delay = 0.005
    while True:
        try:
            cursor.execute("PRAGMA journal_mode=WAL")
            return
        except sqlite3.OperationalError as err:
            if "locked" not in str(err) or time.monotonic() > deadline:
                raise
            time.sleep(delay)
            delay = min(delay * 2, 0.2)


@contextmanager
def _transaction(conn: Connection, earlier: BaseException | None) -> Iterator[Connection]:
    """``conn.begin()``; a connection that a Ctrl-C left busy (see :meth:`Store._store_error`)
    is dropped, not handed back to the pool to be reset (which fails again, logged as an
    error)."""
    try:
        with conn.begin():
            yield conn
    except DBAPIError as err:
        if _interrupted(err, earlier):
            conn.invalidate()
        raise


def _interrupted(err: BaseException, earlier: BaseException | None) -> bool:
    """Whether a Ctrl-C is among the exceptions ``err`` was raised from or while handling (the
    driver error it caused replaced it), other than ``earlier`` and those it came from."""
    old = _chain(earlier)
    return any(isinstance(e, KeyboardInterrupt) and id(e) not in old for e in _chain(err).values())


def _chain(err: BaseException | None) -> dict[int, BaseException]:
    """``err`` and every exception it was raised from or while handling, by id."""
    found: dict[int, BaseException] = {}
    todo = [err]
    while todo:
        e = todo.pop()
        if e is not None and id(e) not in found:
            found[id(e)] = e
            todo += [e.__cause__, e.__context__]
    return found


def _damaged(err: Exception) -> Exception:
    """A store error a user can act on, or the error itself when it is not one of these."""
    if isinstance(err, json.JSONDecodeError):
        return StoreError(
            f"a row in the store holds invalid JSON ({err.msg}); it was edited by hand",
            hint="run `opsbook verify-log` to find it, and restore it from a backup",
        )
    reason = " ".join(str(getattr(err, "orig", err)).split())
    if isinstance(err, DataError):
        return StoreError(
            f"the store refused a value: {reason}",
            hint="shorten the value (ids and names are limited in length)",
        )
    if "malformed" in reason or "not a database" in reason:
        return StoreError(
            "the store is damaged: " + reason,
            hint="restore it from a backup, then run `opsbook verify-log`",
        )
    return err


def _check_file(db: Path) -> None:
    """Refuse a truncated store file (SQLite would silently start it afresh, history gone)."""
    try:
        size, age = db.stat().st_size, time.time() - db.stat().st_mtime
    except FileNotFoundError:
        size, age = -1, 0.0
    except OSError as err:
        raise StoreError(f"cannot read the store {db}: {err.strerror}") from None
    companions = [Path(f"{db}{suffix}") for suffix in ("-wal", "-journal")]
    # A store being created by another process is empty for a moment: only an old one counts.
    if size == 0 and age > 5 and not any(p.exists() for p in companions):
        raise StoreError(
            f"the store {db} is empty (0 bytes): it was truncated or replaced",
            hint="restore it from a backup (then run opsbook verify-log); to start an empty"
            " store on purpose, delete the file",
        )
    try:
        db.parent.mkdir(parents=True, exist_ok=True)
    except OSError as err:
        raise StoreError(
            f"cannot create the store's folder {db.parent}: {err.strerror}",
            hint=f"run opsbook where you can write, or set {URL_ENV}",
        ) from None


def _sqlite_engine(url: str) -> Engine:
    path = make_url(url).database
    if path and path != ":memory:":
        _check_file(Path(path))
    wait = lock_wait()
    engine = create_engine(url, connect_args={"timeout": wait, "check_same_thread": False})

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_conn: Any, _record: Any) -> None:
        dbapi_conn.isolation_level = None  # let the begin hook issue BEGIN itself
        cursor = dbapi_conn.cursor()
        cursor.execute(f"PRAGMA busy_timeout={int(wait * 1000)}")
        _set_wal(cursor, wait)
        cursor.execute("PRAGMA synchronous=NORMAL")  # durable across process crashes in WAL
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(conn: Connection) -> None:
        read = conn.get_execution_options().get("opsbook_read", False)
        conn.exec_driver_sql("BEGIN" if read else "BEGIN IMMEDIATE")

    return engine


def _postgresql_engine(url: str) -> Engine:
    """A pool whose connections wait at most :func:`lock_wait` for a lock. The setting travels
    in the connection's startup options, after $PGOPTIONS and the URL's own ``options`` (which
    the connection argument would otherwise replace), so a ``lock_timeout`` given there wins."""
    setting = f"-c lock_timeout={int(lock_wait() * 1000)}"
    given = make_url(url).query.get("options", "")
    theirs = " ".join(given) if isinstance(given, tuple) else given
    options = " ".join(o for o in (setting, os.environ.get("PGOPTIONS", ""), theirs) if o)
    return create_engine(url, pool_pre_ping=True, connect_args={"options": options})


def open_store(url: str | None = None, *, root: Path | None = None) -> Store:
    """Open and migrate the store: ``url``, else ``$OPSBOOK_DATABASE_URL``, else SQLite in root."""
    chosen = url or os.environ.get(URL_ENV) or default_url(root or Path.cwd())
    normalized = normalize_url(chosen)
    if normalized.startswith("sqlite"):
        engine = _sqlite_engine(normalized)
    else:
        engine = _postgresql_engine(normalized)
    store = Store(engine)
    try:
        store.migrate()
    except BaseException as err:
        engine.dispose()
        if not isinstance(err, SQLAlchemyError):
            raise
        if isinstance(err, OperationalError) and _lock_timeout(err):
            raise store._unavailable(err) from None
        shown = make_url(normalized).render_as_string(hide_password=True)
        raise StoreError(
            f"cannot open the store at {shown}: {getattr(err, 'orig', err)}",
            hint=f"check {URL_ENV} or the permissions of .opsbook/",
        ) from None
    return store
