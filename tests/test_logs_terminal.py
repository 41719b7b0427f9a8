"""What DuckDB, which reads the JSON logs, does to opsbook's terminal: it draws a progress bar on
stdout for a long query, and it takes a Ctrl-C from Python's handler. Each case runs in a fresh
interpreter with a real DuckDB connection as opsbook opens it; the queries are long on purpose.
"""

from __future__ import annotations

import signal
import subprocess
import sys

import pytest

PROGRESS = """
import duckdb
from opsbook.sources import logs

con = duckdb.connect()
con.execute("SET progress_bar_time = 0")  # draw at once, not after two seconds
if {settings}:
    con.execute(logs.SETTINGS)  # (with the bar at once, these two statements draw one each)
print("query:", flush=True)
rows = logs._execute(con, "SELECT count(*) FROM range(200000000) t(i) WHERE i % 7 = 3", [])
print(rows[0][0])
"""


def test_a_long_log_query_draws_no_progress_bar_on_stdout() -> None:
    """DuckDB draws a progress bar on stdout for any query over two seconds: a replay over a
    large enough log would write it into --json output. opsbook's settings turn it off
    (without them, the same query draws one)."""
    shown = {}
    for settings in (True, False):
        done = subprocess.run(
            [sys.executable, "-c", PROGRESS.replace("{settings}", str(settings))],
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert done.returncode == 0, done.stderr
        shown[settings] = done.stdout.partition("query:\n")[2]
    assert shown[True] == f"{len(range(3, 200_000_000, 7))}\n"
    assert "%" in shown[False]


CTRL_C = """
import contextlib, os, signal, threading
from opsbook import proclife
from opsbook.sources import logs

long = "SELECT count(*) FROM range(1000000000) t(i) WHERE i % 7 = 3"  # seconds, not minutes
over = threading.Event()

def ctrl_c_until_over():
    while not over.wait(0.3):
        os.kill(os.getpid(), signal.SIGINT)

handler = proclife.interruptible() if "{under}" == "run" else contextlib.nullcontext()
with handler:
    threading.Thread(target=ctrl_c_until_over, daemon=True).start()
    try:
        logs._execute(logs._connection(), long, [])
        print("finished")
    except KeyboardInterrupt:
        print("interrupt", proclife.received())
    except Exception as err:
        print("error:", err)
    finally:
        over.set()
"""


@pytest.mark.parametrize("under", ["run", "command"])
def test_a_ctrl_c_during_a_log_query_is_the_interrupt_not_a_source_error(under: str) -> None:
    """DuckDB runs Python's signal handler while it queries and turns the Ctrl-C into an error
    of its own ("Query interrupted"). As a source error the Ctrl-C was lost: a monitor step
    (a canary's watch) read "no data" and went on, after a run's handler had killed the
    other steps' processes, and `opsbook watch` went on watching. It is the interrupt, under
    a run's handler (which records the signal and kills the steps) and under Python's own in
    any other command. (A Ctrl-C that lands while DuckDB waits for a task of its own is raised
    when the query ends.)"""
    done = subprocess.run(
        [sys.executable, "-c", CTRL_C.replace("{under}", under)],
        capture_output=True,
        text=True,
        timeout=60,
    )
    recorded = signal.SIGINT.value if under == "run" else None
    assert done.stdout.strip() == f"interrupt {recorded}", done.stdout + done.stderr
