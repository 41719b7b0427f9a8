"""The executor's transactions (engine/checkpoint.py) on a real SQLite store: the connection the
scheduler keeps between its transactions survives what a Ctrl-C can leave on it."""

from __future__ import annotations

import threading
from pathlib import Path

from sqlalchemy import text

from opsbook.engine.checkpoint import Checkpoints
from opsbook.store import open_store


def test_a_transaction_a_ctrl_c_left_open_on_the_kept_connection_is_dropped(
    tmp_path: Path,
) -> None:
    """A Ctrl-C that lands in SQLAlchemy's own code between its bookkeeping and the driver's
    BEGIN or ROLLBACK leaves SQLite in a transaction SQLAlchemy does not know of. The next
    BEGIN on that connection failed ("cannot start a transaction within a transaction"), so
    the interrupted run could not record that it stopped (exit 1, the run left running). Seen
    in a trial of Ctrl-Cs at random points; reproduced here by opening the transaction
    behind SQLAlchemy's back."""
    url = f"sqlite:///{tmp_path / 'state.db'}"
    store, other = open_store(url), open_store(url)
    checkpoints = Checkpoints(store=store, run_id="r", owner="me", lost=threading.Event())
    checkpoints.bind()
    try:
        with checkpoints.begin() as conn:  # the scheduler's thread keeps this connection
            conn.execute(text("CREATE TABLE marks (n INTEGER)"))
            kept = conn.connection.driver_connection
        kept.execute("BEGIN IMMEDIATE")  # what the interrupt left: open, unknown to SQLAlchemy
        with checkpoints.begin() as conn:
            conn.execute(text("INSERT INTO marks VALUES (1)"))
        with other.begin() as conn:  # committed, and the write lock is free again
            conn.execute(text("INSERT INTO marks VALUES (2)"))
            assert conn.execute(text("SELECT n FROM marks ORDER BY n")).scalars().all() == [1, 2]
    finally:
        checkpoints.close()
        store.close()
        other.close()
