"""An executor's hold on its run: the heartbeat that renews the lease and notices the run being
taken over or asked to stop.

Lease times are the database's (see :func:`opsbook.store.runs.db_now`). A heartbeat that cannot
reach the store says so at once and keeps trying while the lease may still hold; after that the
lease counts as lost and the executor stops, with the cause.
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Callable
from typing import Any

from opsbook.engine.states import EventType, RunStatus
from opsbook.store import Store
from opsbook.store import runs as q

LEASE_ENV = "OPSBOOK_LEASE_SECONDS"


def lease_seconds() -> float:
    """How long a lease lasts without renewal ($OPSBOOK_LEASE_SECONDS, default 15)."""
    return float(os.environ.get(LEASE_ENV, "15"))


class Heartbeat:
    """Renews ``owner``'s lease on a run every third of the lease time, in a daemon thread.

    ``lost`` is set when another process took the run or the lease could not be renewed for as
    long as it lasts (``lost_because`` says why); ``abort`` when an operator asked the run to
    stop. Either way ``on_stop`` is called (the executor cancels what is in flight).
    """

    def __init__(
        self,
        *,
        store: Store,
        run_id: str,
        owner: str,
        on_stop: Callable[[], None],
        emit: Callable[..., None],
    ) -> None:
        self.store = store
        self.run_id = run_id
        self.owner = owner
        self.ttl = lease_seconds()
        self.on_stop = on_stop
        self.emit = emit
        self.lost = threading.Event()
        self.abort = threading.Event()
        self.lost_because = ""
        self._stop = threading.Event()

    def start(self) -> None:
        threading.Thread(target=self._beat, daemon=True, name=f"heartbeat-{self.run_id}").start()

    def stop(self) -> None:
        self._stop.set()

    def _beat(self) -> None:
        renewed = time.monotonic()
        while not self._stop.wait(self.ttl / 3):
            status = self._renew(time.monotonic() - renewed)
            if status is _TRY_AGAIN:
                continue
            renewed = time.monotonic()
            if status is None:
                self.lost.set()
                self.on_stop()
                return
            if status == RunStatus.ABORTING and not self.abort.is_set():  # asked to stop
                self.abort.set()
                self.on_stop()

    def _renew(self, failing: float) -> Any:
        """The run's status; None when the lease is lost; _TRY_AGAIN while it may still hold."""
        try:
            with self.store.begin() as conn:
                return q.renew_lease(conn, self.run_id, self.owner, self.ttl)
        except Exception as err:  # any failure must show, not end this thread silently
            self.emit(EventType.HEARTBEAT_FAILED, None, message=str(err), failing=failing)
            if failing + self.ttl / 3 < self.ttl:
                return _TRY_AGAIN
            self.lost_because = f"the lease could not be renewed for {failing:.0f}s: {err}"
            return None


_TRY_AGAIN = object()
