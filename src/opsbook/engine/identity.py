"""Who runs, on what commit, under which ids."""

from __future__ import annotations

import os
import secrets
import socket
import subprocess
import time
from pathlib import Path

from opsbook.errors import UsageError

OPERATOR_ENV = "OPSBOOK_OPERATOR"


def operator(root: Path) -> str:
    """$OPSBOOK_OPERATOR, else the git user (``Name <email>``), else $USER."""
    named = os.environ.get(OPERATOR_ENV, "").strip()
    if named:
        return _checked(named)
    name = _git(root, "config", "user.name")
    if name:
        email = _git(root, "config", "user.email")
        return f"{name} <{email}>" if email else name
    return os.environ.get("USER") or os.environ.get("LOGNAME") or "unknown"


def git_sha(root: Path) -> str | None:
    """``git rev-parse HEAD`` in the project root, or None outside a git repository."""
    return _git(root, "rev-parse", "HEAD")


def _git(root: Path, *args: str) -> str | None:
    try:
        done = subprocess.run(
            ["git", *args], cwd=root, capture_output=True, text=True, timeout=10, check=False
        )
    except (OSError, subprocess.TimeoutExpired):
        return None
    value = done.stdout.strip()
    return value if done.returncode == 0 and value else None


def new_run_id() -> str:
    """Sortable and short: ``20261122-025627-3fa9c1``."""
    return time.strftime("%Y%m%d-%H%M%S", time.gmtime()) + "-" + secrets.token_hex(3)


def new_owner() -> str:
    """A lease owner id unique to this process and executor."""
    return f"{socket.gethostname()}:{os.getpid()}:{secrets.token_hex(4)}"


MAX_OPERATOR = 200
"""The store keeps operators in VARCHAR(200) on PostgreSQL."""


def _checked(name: str) -> str:
    if len(name) > MAX_OPERATOR or any(ord(c) < 32 for c in name):
        raise UsageError(
            f"{OPERATOR_ENV} must be at most {MAX_OPERATOR} printable characters"
            f" (it has {len(name)})",
            hint="set it to your name or e-mail address",
        )
    return name
