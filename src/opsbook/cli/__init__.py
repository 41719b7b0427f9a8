"""The command line: parse arguments, make one library call, map errors to exit codes.

Each area registers its commands in its own module; importing them here attaches them to ``app``.
Exit codes: 0 success, 1 a run or check failed, 2 invalid input or usage, 3 waiting for a human,
4 environment locked.
"""

from __future__ import annotations

from opsbook.cli import (  # noqa: F401  (importing a module registers its commands)
    audit_cmds,
    auth_cmds,
    check_cmds,
    db_cmds,
    flag_cmds,
    import_cmds,
    incident_cmds,
    monitor_cmds,
    run_cmds,
    serve_cmds,
    spec_cmds,
)
from opsbook.cli.app import app

__all__ = ["app", "main"]


def main() -> None:
    app()
