"""The secrets baseline: findings a team has looked at and accepted (test keys, fixtures).

``.opsbook-secrets-baseline.json`` beside opsbook.yaml, written by
``opsbook check secrets --update-baseline`` and committed. An entry is a file and a salted
SHA-256 of the secret found there, so an accepted finding stays accepted when lines move, and
comes back when the value changes or appears in another file. The salt is random per baseline
and stored in it; the per-machine fingerprint key cannot be used here because teammates and CI
must be able to read the same baseline. (detect-secrets' own baselines store unsalted SHA-1.)
"""

from __future__ import annotations

import hashlib
import json
import secrets
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from opsbook.errors import UsageError

FILENAME = ".opsbook-secrets-baseline.json"
VERSION = 1


@dataclass(frozen=True)
class Entry:
    """One accepted finding."""

    file: str
    hash: str
    code: str
    line: int


@dataclass
class Baseline:
    """Accepted findings and the salt their hashes use."""

    salt: str = field(default_factory=lambda: secrets.token_hex(16))
    entries: list[Entry] = field(default_factory=list)

    def hash(self, value: str) -> str:
        return hashlib.sha256((self.salt + value).encode()).hexdigest()

    def accepts(self, file: str, value: str) -> bool:
        digest = self.hash(value)
        return any(e.file == file and e.hash == digest for e in self.entries)

    def to_dict(self) -> dict[str, Any]:
        return {
            "version": VERSION,
            "generated_by": "opsbook check secrets --update-baseline",
            "salt": self.salt,
            "accepted": [vars(e) for e in self.entries],
        }


def load(path: Path) -> Baseline:
    """The baseline at ``path``; an empty one when the file does not exist."""
    if not path.is_file():
        return Baseline()
    try:
        data = json.loads(path.read_text())
        return Baseline(
            salt=str(data["salt"]),
            entries=[
                Entry(str(e["file"]), str(e["hash"]), str(e["code"]), int(e["line"]))
                for e in data["accepted"]
            ],
        )
    except (ValueError, KeyError, TypeError) as err:
        raise UsageError(
            f"{path}: not an opsbook secrets baseline ({err})",
            hint="recreate it with `opsbook check secrets --update-baseline`",
        ) from None


def save(path: Path, baseline: Baseline) -> None:
    """Write the baseline, sorted so that re-running it gives a small diff."""
    baseline.entries.sort(key=lambda e: (e.file, e.line, e.code, e.hash))
    path.write_text(json.dumps(baseline.to_dict(), indent=2) + "\n")
