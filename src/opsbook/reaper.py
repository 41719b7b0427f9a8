"""The reaper: kills the step process groups of an opsbook process that died without cleaning up.

Started once per opsbook process (in its own session, so a signal to opsbook's process group
does not reach it) by :mod:`opsbook.proclife`, with a pipe on its stdin. opsbook writes
``+PGID`` when a step's process group starts and ``-PGID`` when it ends, ``@FOLDER`` and
``!FOLDER`` for a run's private folder. When the pipe closes (opsbook exited, crashed or was
killed with SIGKILL) every group still listed gets SIGTERM and, after the grace period, SIGKILL;
then every folder still listed is removed. Run as a plain script
(``python -I -S reaper.py GRACE``) so it starts in milliseconds: it imports nothing from opsbook.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import sys
import time


def _alive(pgid: int) -> bool:
    try:
        os.killpg(pgid, 0)
    except (ProcessLookupError, PermissionError):
        return False
    return True


def _signal(pgid: int, signum: int) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pgid, signum)


def main() -> None:
    grace = float(sys.argv[1]) if len(sys.argv) > 1 else 5.0
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGHUP, signal.SIG_IGN)
    groups: set[int] = set()
    folders: set[str] = set()
    for line in sys.stdin:
        text = line.rstrip("\n")
        if text[1:].isdigit():
            (groups.add if text[0] == "+" else groups.discard)(int(text[1:]))
        elif text[:1] in ("@", "!"):
            (folders.add if text[0] == "@" else folders.discard)(text[1:])
    live = [g for g in groups if _alive(g)]
    for pgid in live:
        _signal(pgid, signal.SIGTERM)
    deadline = time.monotonic() + grace
    while live and time.monotonic() < deadline:
        time.sleep(0.05)
        live = [g for g in live if _alive(g)]
    for pgid in live:
        _signal(pgid, signal.SIGKILL)
    for folder in folders:
        # Only a run's own folder (tempfile.mkdtemp(prefix="opsbook-RUN-")), nothing else.
        if os.path.basename(folder).startswith("opsbook-") and os.path.isabs(folder):
            shutil.rmtree(folder, ignore_errors=True)


if __name__ == "__main__":
    main()
