"""Migration files on disk: which naming scheme a folder uses, their order, and what is wrong.

Three schemes are recognised (``database.naming`` forces one; otherwise the scheme most files
follow wins):

- ``supabase``: ``20240101120000_create_users.sql`` (a 14-digit timestamp),
- ``numbered``: ``001_create_users.sql`` (any shorter number),
- ``flyway``: ``V1__create_users.sql`` / ``V1.1__fix.sql`` (versioned migrations only).

Problems found from the files alone: numbering gaps (numbered and integer Flyway versions),
duplicate versions, and ``.sql`` files that do not follow the scheme. Checksum drift and files out
of order need the history table and are found by :mod:`opsbook.db.status`.
"""

from __future__ import annotations

import hashlib
import itertools
import re
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

from opsbook.errors import UsageError

Naming = Literal["supabase", "numbered", "flyway"]

PATTERNS: dict[Naming, re.Pattern[str]] = {
    "supabase": re.compile(r"^(?P<version>\d{14})_(?P<name>.+)\.sql$"),
    "numbered": re.compile(r"^(?P<version>\d{1,13})_(?P<name>.+)\.sql$"),
    "flyway": re.compile(r"^V(?P<version>\d+(?:[._]\d+)*)__(?P<name>.+)\.sql$"),
}


@dataclass(frozen=True)
class MigrationFile:
    """One migration file. ``key`` orders migrations; ``filename`` identifies it in history."""

    filename: str
    version: str
    description: str
    path: Path
    checksum: str
    """sha256 of the file's bytes, hex."""

    @property
    def key(self) -> tuple[int, ...]:
        return version_key(self.version)

    def sql(self) -> str:
        return self.path.read_text(encoding="utf-8")


@dataclass(frozen=True)
class FileProblem:
    """Something wrong with the set of files, e.g. ``gap`` / ``duplicate`` / ``unrecognized``."""

    code: str
    message: str
    files: tuple[str, ...] = ()

    @property
    def severity(self) -> str:
        """``warning`` for a gap (files are sometimes retired on purpose), else ``error``."""
        return "warning" if self.code == "gap" else "error"


@dataclass
class Discovery:
    """The migration files of a folder, in apply order, and the problems found in them."""

    folder: Path
    naming: Naming
    files: list[MigrationFile] = field(default_factory=list)
    problems: list[FileProblem] = field(default_factory=list)


def version_key(version: str) -> tuple[int, ...]:
    """Numeric ordering of a version: ``"1.10"`` after ``"1.9"``, ``"010"`` equals ``"10"``.

    >>> version_key("1_2"), version_key("010")
    ((1, 2), (10,))
    """
    return tuple(int(part) for part in re.split(r"[._]", version))


def checksum(path: Path) -> str:
    """sha256 of a file's bytes (hex), as recorded in the history table."""
    return hashlib.sha256(path.read_bytes()).hexdigest()


def detect_naming(names: list[str]) -> Naming | None:
    """The scheme most of ``names`` follow; None when none matches any.

    >>> detect_naming(["001_a.sql", "002_b.sql", "V1__c.sql"])
    'numbered'
    """
    counts = Counter(scheme for name in names for scheme, rx in PATTERNS.items() if rx.match(name))
    if not counts:
        return None
    # Ties go to the order of PATTERNS: a 14-digit prefix is a timestamp, not a number.
    return max(PATTERNS, key=lambda scheme: counts[scheme])


def discover(
    folder: Path, naming: Naming | None = None, *, display: str | None = None
) -> Discovery:
    """The migration files of ``folder`` in apply order, with the problems found in them."""
    shown = display or str(folder)
    if not folder.is_dir():
        raise UsageError(
            f"database.migrations: folder {shown} does not exist",
            hint="create it or point database.migrations at your migrations folder",
        )
    names = sorted(p.name for p in folder.iterdir() if p.is_file() and p.suffix == ".sql")
    scheme = naming or detect_naming(names) or "numbered"
    pattern = PATTERNS[scheme]
    found = Discovery(folder, scheme)
    for name in names:
        match = pattern.match(name)
        if match is None or (scheme == "numbered" and PATTERNS["supabase"].match(name)):
            found.problems.append(
                FileProblem(
                    "unrecognized",
                    f"{name} does not follow the {scheme} naming ({_example(scheme)}); "
                    "rename it or it is never applied",
                    (name,),
                )
            )
            continue
        path = folder / name
        found.files.append(
            MigrationFile(name, match["version"], match["name"], path, checksum(path))
        )
    found.files.sort(key=lambda f: (f.key, f.filename))
    found.problems += _duplicates(found.files) + _gaps(found.files, scheme)
    return found


def _example(scheme: Naming) -> str:
    return {
        "supabase": "YYYYMMDDHHMMSS_name.sql",
        "numbered": "001_name.sql",
        "flyway": "V1__name.sql",
    }[scheme]


def _duplicates(files: list[MigrationFile]) -> list[FileProblem]:
    by_key: dict[tuple[int, ...], list[str]] = {}
    for f in files:
        by_key.setdefault(f.key, []).append(f.filename)
    return [
        FileProblem(
            "duplicate",
            f"version {'.'.join(map(str, key))} is used by {len(names)} files: "
            f"{', '.join(names)}; renumber all but one",
            tuple(names),
        )
        for key, names in by_key.items()
        if len(names) > 1
    ]


def _gaps(files: list[MigrationFile], scheme: Naming) -> list[FileProblem]:
    """Missing numbers between the first and last migration (not for timestamps)."""
    if scheme == "supabase":
        return []
    numbers = sorted({f.key[0] for f in files if len(f.key) == 1})
    problems = []
    for before, after in itertools.pairwise(numbers):
        if after - before > 1:
            missing = list(range(before + 1, after))
            width = len(next(f.version for f in files if f.key == (before,)))
            shown = ", ".join(str(n).zfill(width) for n in missing)
            problems.append(
                FileProblem(
                    "gap",
                    f"migration {shown} is missing between {before:0{width}d} and "
                    f"{after:0{width}d}; restore the file, or note why it was removed",
                    tuple(f.filename for f in files if f.key in ((before,), (after,))),
                )
            )
    return problems
