"""Checkpoints: every write an executor makes is one transaction fenced by its lease.

A :class:`Fenced` block starts with :func:`opsbook.store.runs.fence` (``UPDATE runs ... WHERE
lease_owner = :me``) and first writes the step ends that were deferred to it (a step that
succeeded in the scheduler's own thread joins the next transaction, so a sequential runbook
commits once per step boundary). Events put in ``events`` are appended when the block ends,
before the commit, with one read of the chain head. A block that does not commit hands its
deferred writes on to the next one.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from contextlib import AbstractContextManager
from typing import Any

from opsbook.errors import LeaseLost
from opsbook.store import Store
from opsbook.store import events as chain
from opsbook.store import runs as q

Write = Callable[[Any, list[chain.NewEvent]], None]
"""A deferred write: (connection, events to append) → None."""


class Checkpoints:
    """The fenced transactions of one executor and the writes deferred to the next of them."""

    def __init__(self, *, store: Store, run_id: str, owner: str, lost: threading.Event) -> None:
        self.store = store
        self.run_id = run_id
        self.owner = owner
        self.lost = lost
        self._deferred: list[Write] = []
        self._lock = threading.Lock()
        self._thread: int | None = None
        self._held: Any = None

    def bind(self) -> None:
        """The calling thread is the scheduler's: its transactions share one connection."""
        self._thread = threading.get_ident()

    def begin(self) -> AbstractContextManager[Any]:
        """A store transaction. On SQLite, the scheduler's thread (see :meth:`bind`) keeps one
        connection for all of its transactions: checking a connection out of SQLAlchemy's pool
        and back costs about 60 µs, a tenth of a step boundary's writes. Other threads
        (parallel steps, the heartbeat) and PostgreSQL (whose pool checks a connection before
        each use, so a server restart costs one connection, not the run) use the pool."""
        if self.store.dialect != "sqlite" or threading.get_ident() != self._thread:
            return self.store.begin()
        held = self._held
        if held is None:
            self._held = self.store.engine.connect()
        elif held.in_transaction():  # a transaction inside another: not ours to share
            return self.store.begin()
        elif not held.invalidated and held.connection.driver_connection.in_transaction:
            # SQLite holds a transaction SQLAlchemy no longer knows of: a Ctrl-C that lands in
            # SQLAlchemy's own code between its bookkeeping and the driver's BEGIN or ROLLBACK
            # leaves one, and the next BEGIN failed ("cannot start a transaction within a
            # transaction"), so the interrupted run could not record that it stopped. The
            # connection is dropped (closing it rolls the transaction back); SQLAlchemy
            # connects again on its next use.
            held.invalidate()
        return self.store.begin(on=self._held)

    def close(self) -> None:
        """Give the held connection back (the executor ends)."""
        held, self._held = self._held, None
        if held is not None:
            held.close()

    def txn(self, now: float | None = None, *, batch: bool = False) -> Fenced:
        """A fenced transaction. Without ``batch`` the deferred writes' events are appended as
        the block opens, so events the block appends itself come after them."""
        return Fenced(self, time.time() if now is None else now, batch=batch)

    def defer(self, write: Write) -> None:
        with self._lock:
            self._deferred.append(write)

    def take(self) -> list[Write]:
        with self._lock:
            taken, self._deferred = self._deferred, []
        return taken

    def put_back(self, writes: list[Write]) -> None:
        with self._lock:
            self._deferred[:0] = writes


class Fenced:
    """One fenced transaction (see the module's docstring)."""

    def __init__(self, owner: Checkpoints, now: float, *, batch: bool = False) -> None:
        self.checkpoints = owner
        self.now = now
        self.batch = batch
        self.events: list[chain.NewEvent] = []
        self.pending: list[Write] = []
        self._cm: Any = None
        self._conn: Any = None

    def __enter__(self) -> Any:
        cp = self.checkpoints
        self._cm = cp.begin()
        conn = self._conn = self._cm.__enter__()
        try:
            q.fence(conn, cp.run_id, cp.owner, self.now)
            self.pending = cp.take()
            for write in self.pending:
                write(conn, self.events)
            if not self.batch:
                self._append_events()
        except BaseException as err:
            self._rolled_back()
            self._cm.__exit__(type(err), err, err.__traceback__)
            if isinstance(err, LeaseLost):
                cp.lost.set()
            raise
        return conn

    def __exit__(self, *exc: Any) -> Any:
        if exc[0] is None:
            try:
                self._append_events()
            except BaseException as err:
                # The transaction rolls back; the error (as the store translates it) propagates.
                self._rolled_back()
                self._cm.__exit__(type(err), err, err.__traceback__)
                raise
        else:
            self._rolled_back()
        try:
            return self._cm.__exit__(*exc)
        except BaseException:
            self._rolled_back()
            raise

    def _rolled_back(self) -> None:
        # A guarded write that lost to an abort must not take the previous step's end with it.
        self.checkpoints.put_back(self.pending)
        self.pending = []

    def _append_events(self) -> None:
        if self.events:
            chain.append_many(self._conn, self.events)
            self.events = []
