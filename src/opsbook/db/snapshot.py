"""Snapshots of the application's database with ``pg_dump`` (custom format), and restoring them.

The password never appears on a command line (other users can read process lists): it is passed
to pg_dump and pg_restore in ``PGPASSWORD``. ``$OPSBOOK_PG_DUMP`` / ``$OPSBOOK_PG_RESTORE`` choose
other binaries, e.g. a newer client for a newer server.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from datetime import UTC, datetime
from pathlib import Path

import psycopg
from psycopg.conninfo import conninfo_to_dict, make_conninfo

from opsbook.db.history import SCHEMA as HISTORY_SCHEMA
from opsbook.db.target import Target
from opsbook.errors import DatabaseError, UsageError

_MISMATCH = re.compile(r"server version: ([\d.]+); \S+ version: ([\d.]+)")


def _tool(name: str) -> str:
    configured = os.environ.get(f"OPSBOOK_{name.upper()}")
    found = (
        configured
        or shutil.which(name)
        or (f"/usr/bin/{name}" if Path(f"/usr/bin/{name}").is_file() else None)
    )
    if not found:
        raise DatabaseError(
            f"{name} is not installed, so no snapshot can be taken",
            hint=f"install the PostgreSQL client (e.g. apt install postgresql-client) or set "
            f"OPSBOOK_{name.upper()} to its path",
        )
    return found


def _conninfo_and_env(target: Target) -> tuple[str, dict[str, str]]:
    try:
        params = {k: str(v) for k, v in conninfo_to_dict(target.url).items() if v is not None}
    except psycopg.ProgrammingError as err:
        raise UsageError(
            f"database.url is not a valid connection string: {target.mask(str(err))}"
        ) from None
    env = dict(os.environ)
    password = params.pop("password", None)
    if password is not None:
        env["PGPASSWORD"] = password
    return make_conninfo(**params), env


def _run(
    target: Target, argv: list[str], what: str, *, connect: bool = True, input: str | None = None
) -> str:
    """Run a PostgreSQL client tool (connected to the target unless ``connect`` is False)."""
    conninfo, env = _conninfo_and_env(target)
    if connect:
        argv = [*argv, f"--dbname={conninfo}"]
    try:
        proc = subprocess.run(
            argv, capture_output=True, text=True, env=env, check=False, input=input
        )
    except OSError as err:
        raise DatabaseError(f"cannot run {argv[0]}: {err}") from None
    if proc.returncode == 0:
        return proc.stdout
    stderr = target.mask(proc.stderr.strip())
    mismatch = _MISMATCH.search(stderr)
    if mismatch:
        server, client = mismatch.groups()
        major = server.split(".")[0]
        raise DatabaseError(
            f"{what} failed: {Path(argv[0]).name} {client} cannot dump a PostgreSQL {server} "
            "server (pg_dump must be at least as new as the server)",
            hint=f"install postgresql-client-{major} and set OPSBOOK_{Path(argv[0]).name.upper()}"
            f" to its {Path(argv[0]).name}",
        )
    raise DatabaseError(f"{what} failed ({Path(argv[0]).name} exit {proc.returncode}): {stderr}")


def take_snapshot(target: Target, label: str) -> Path:
    """Dump the whole database to ``<snapshots>/<db>-<UTC time>-<label>.dump``; its path."""
    folder = target.snapshots_dir
    folder.mkdir(parents=True, exist_ok=True)
    try:
        dbname = str(conninfo_to_dict(target.url).get("dbname") or "db")
    except psycopg.ProgrammingError:
        dbname = "db"
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%S%fZ")
    safe = re.sub(r"[^A-Za-z0-9_.-]", "_", f"{dbname}-{stamp}-{label}")
    path = folder / f"{safe}.dump"
    _run(target, [_tool("pg_dump"), "--format=custom", f"--file={path}"], "snapshot (pg_dump)")
    return path


def restore_snapshot(target: Target, path: Path) -> None:
    """Put the migrated schemas back exactly as snapshotted, in one transaction.

    ``pg_restore --clean`` drops only the objects a snapshot holds, so a table that a later
    migration created would survive it. The schemas opsbook migrates (``database.schemas``) and
    its history schema are therefore dropped first, in the same transaction as the restore
    (``psql --single-transaction``): a failure leaves the database as it was.
    """
    if not path.is_file():
        raise UsageError(
            f"snapshot {path} does not exist", hint="pass a path printed by db migrate"
        )
    script = _run(
        target,
        [_tool("pg_restore"), "--clean", "--if-exists", "--no-owner", "--file=-", str(path)],
        "restore (pg_restore)",
        connect=False,
    )
    schemas = list(dict.fromkeys([*target.config.schemas, HISTORY_SCHEMA]))
    prelude = "".join(f"DROP SCHEMA IF EXISTS {_quote(s)} CASCADE;\n" for s in schemas)
    if "public" in schemas:
        prelude += "CREATE SCHEMA public;\n"
    _run(
        target,
        [_tool("psql"), "--no-psqlrc", "--quiet", "--single-transaction", "-v", "ON_ERROR_STOP=1"],
        "restore (psql)",
        input=prelude + script,
    )


def _quote(identifier: str) -> str:
    return '"' + identifier.replace('"', '""') + '"'
