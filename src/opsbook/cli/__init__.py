"""The command line: parse arguments, make one library call, map errors to exit codes.

Each area registers its commands in its own module; importing them here attaches them to ``app``.
Exit codes: 0 success, 1 a run or check failed, 2 invalid input or usage, 3 waiting for a human,
4 environment locked.
"""

from __future__ import annotations

import opsbook.cli.check_cmds  # noqa: F401  (registers `opsbook check ...`)
from opsbook.cli import audit_cmds, spec_cmds  # noqa: F401  (registers commands)
from opsbook.cli import db_cmds  # noqa: F401  (registers commands)
from opsbook.cli import import_cmds  # noqa: F401  (registers import, init)
from opsbook.cli import run_cmds  # noqa: F401  (registers run, approve, resume, abort, ...)
from opsbook.cli.app import app

__all__ = ["app", "main"]


def main() -> None:
    app()
