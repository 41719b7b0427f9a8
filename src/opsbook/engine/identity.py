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
    """A lease owner id unique to this process and executor: ``host:pid:boot:token``.

    Host, pid and the machine's boot id let another process on the same machine tell for sure
    that the holder is gone (see :func:`holder_is_gone`) and take the run at once.
    """
    return f"{socket.gethostname()[:60]}:{os.getpid()}:{boot_id()}:{secrets.token_hex(4)}"


def boot_id() -> str:
    """This machine's boot id (Linux), shortened; ``-`` where there is none."""
    try:
        text = Path("/proc/sys/kernel/random/boot_id").read_text(encoding="ascii")
    except OSError:
        return "-"
    return text.strip().replace("-", "")[:12] or "-"


def holder_is_gone(owner: str) -> bool:
    """True only when ``owner`` ran on this host since its last boot and its pid is not running.

    Anything less certain (another machine, an older owner id, a pid that is alive, even if
    reused by another program) is False: then only the lease's expiry frees the run.
    """
    parts = owner.split(":")
    if len(parts) != 4 or not parts[1].isdigit():
        return False
    host, pid, boot, _ = parts
    if host != socket.gethostname()[:60] or boot == "-" or boot != boot_id():
        return False
    return not _running(int(pid))


def describe_holder(owner: str) -> str:
    """``pid 4242 on web-1`` for an owner id (the id itself when it has another shape)."""
    parts = owner.split(":")
    if len(parts) == 4 and parts[1].isdigit():
        return f"pid {parts[1]} on {parts[0]}"
    return owner


def _running(pid: int) -> bool:
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # another user's process: alive
        return True
    try:  # a killed process its parent has not reaped yet is a zombie: gone
        stat = Path(f"/proc/{pid}/stat").read_text(encoding="ascii", errors="replace")
        return stat.rsplit(")", 1)[1].split()[0] not in ("Z", "X")
    except (OSError, IndexError):
        return True


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
