"""Applied versus pending: migration files compared with the database's history tables.

A file is applied when opsbook's history names it, or Supabase's or Flyway's history holds its
version. Problems added to those of the files themselves: ``drift`` (an applied file edited since:
its sha256 differs from the one recorded), ``out_of_order`` (a pending file older than the newest
applied one: it would run after migrations written later) and ``missing_file`` (history names a
file the folder no longer has).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from datetime import datetime
from typing import Any

from opsbook.db import files, history
from opsbook.db.files import FileProblem, MigrationFile
from opsbook.db.target import Target, connect


@dataclass
class MigrationState:
    filename: str
    version: str
    state: str
    """``applied`` or ``pending``."""
    source: str | None = None
    """Which history recorded it: ``opsbook``, ``supabase`` or ``flyway``."""
    applied_at: datetime | None = None
    operator: str | None = None
    duration_ms: int | None = None
    drift: bool = False


@dataclass
class Status:
    """What ``opsbook db status`` reports."""

    folder: str
    naming: str
    migrations: list[MigrationState] = field(default_factory=list)
    problems: list[FileProblem] = field(default_factory=list)
    sources: list[str] = field(default_factory=list)
    """History tables found in the database."""

    @property
    def pending(self) -> list[str]:
        return [m.filename for m in self.migrations if m.state == "pending"]

    @property
    def applied(self) -> list[str]:
        return [m.filename for m in self.migrations if m.state == "applied"]

    @property
    def ok(self) -> bool:
        """No problem worse than a warning (pending migrations are not a problem)."""
        return all(p.severity == "warning" for p in self.problems)

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        for problem, item in zip(self.problems, data["problems"], strict=True):
            item["severity"] = problem.severity
        data["ok"] = self.ok
        data["pending"] = self.pending
        data["applied"] = self.applied
        return data


def _match(f: MigrationFile, applied: list[history.Applied]) -> history.Applied | None:
    for row in applied:
        if row.source == "opsbook" and row.name == f.filename:
            return row
    for row in applied:
        if row.source != "opsbook" and _same_version(row.version, f.version):
            return row
    return None


def _same_version(a: str, b: str) -> bool:
    try:
        return files.version_key(a) == files.version_key(b)
    except ValueError:
        return a == b


def compare(discovery: files.Discovery, applied: list[history.Applied], folder: str) -> Status:
    """Status from files and history rows (no database access)."""
    status = Status(folder, discovery.naming, problems=list(discovery.problems))
    status.sources = sorted({row.source for row in applied})
    matched: set[int] = set()
    newest_applied: tuple[int, ...] | None = None
    for f in discovery.files:
        row = _match(f, applied)
        if row is None:
            status.migrations.append(MigrationState(f.filename, f.version, "pending"))
            continue
        matched.add(id(row))
        drift = row.checksum is not None and row.checksum != f.checksum
        status.migrations.append(
            MigrationState(
                f.filename,
                f.version,
                "applied",
                row.source,
                row.applied_at,
                row.operator,
                row.duration_ms,
                drift,
            )
        )
        newest_applied = max(newest_applied or f.key, f.key)
        if drift:
            status.problems.append(
                FileProblem(
                    "drift",
                    f"{f.filename} was edited after it was applied (sha256 {f.checksum[:12]} "
                    f"now, {str(row.checksum)[:12]} when applied); revert the edit and write a "
                    "new migration instead",
                    (f.filename,),
                )
            )
    for m, f in zip(status.migrations, discovery.files, strict=True):
        if m.state == "pending" and newest_applied is not None and f.key < newest_applied:
            status.problems.append(
                FileProblem(
                    "out_of_order",
                    f"{f.filename} is pending but older than applied migrations; it would run "
                    "after them: give it a newer version, or check it was not skipped by mistake",
                    (f.filename,),
                )
            )
    known = {f.filename for f in discovery.files}
    for row in applied:
        if row.source == "opsbook" and id(row) not in matched and row.name not in known:
            status.problems.append(
                FileProblem(
                    "missing_file",
                    f"{row.name} was applied but is no longer in {folder}; restore the file",
                    (row.name,),
                )
            )
    return status


def discover(target: Target) -> files.Discovery:
    """The target's migration files."""
    return files.discover(
        target.migrations_dir, target.config.naming, display=target.config.migrations
    )


def get_status(target: Target) -> Status:
    """Connect and compare the migrations folder with the database's history."""
    discovery = discover(target)
    with connect(target) as conn:
        applied = history.read_all(conn)
    return compare(discovery, applied, target.config.migrations)
