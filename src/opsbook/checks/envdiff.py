"""``check env-diff``: two environments (or env files) side by side, compared by keyed hash.

Each side is an environment name from opsbook.yaml or a path to a dotenv file. Environments
are resolved *without* the process environment: the shell running the diff belongs to neither
side, and letting it fill both would make every variable it holds look identical (and every
such secret look shared). Values are compared by HMAC (:mod:`opsbook.checks.fingerprint`) and
never reported; secrets show a fingerprint so a stale one can be recognised. Browser-exposed
variables are public by definition and never count as secrets here.
"""

from __future__ import annotations

import hmac
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from opsbook.checks.findings import Report
from opsbook.checks.fingerprint import Fingerprinter, for_project
from opsbook.checks.public import is_browser_exposed
from opsbook.environ import read_env_file, resolve
from opsbook.errors import UsageError
from opsbook.secretnames import is_secret
from opsbook.spec.loader import LoadedSpec

Category = Literal["only_a", "only_b", "different", "identical"]
CATEGORIES: tuple[Category, ...] = ("only_a", "only_b", "different", "identical")


@dataclass(frozen=True)
class Side:
    """One side of a diff: its label, values and which of them are secret."""

    label: str
    kind: Literal["environment", "file"]
    values: dict[str, str]
    secret_names: frozenset[str]


@dataclass(frozen=True)
class DiffRow:
    """One variable's comparison; fingerprints only for secrets."""

    name: str
    category: Category
    secret: bool
    a: str | None = None
    b: str | None = None

    def to_dict(self) -> dict[str, Any]:
        row: dict[str, Any] = {"name": self.name, "category": self.category}
        row["secret"] = self.secret
        if self.a is not None:
            row["a_fingerprint"] = self.a
        if self.b is not None:
            row["b_fingerprint"] = self.b
        return row


@dataclass
class EnvDiffReport(Report):
    """Variables only in A, only in B, different, identical."""

    a: str = ""
    b: str = ""
    rows: list[DiffRow] = field(default_factory=list)

    def names(self, category: Category) -> list[str]:
        return [r.name for r in self.rows if r.category == category]

    def details(self) -> dict[str, Any]:
        return {
            "a": self.a,
            "b": self.b,
            **{c: self.names(c) for c in CATEGORIES},
            "variables": [r.to_dict() for r in self.rows],
        }


def load_side(loaded: LoadedSpec, which: str) -> Side:
    """An environment of opsbook.yaml by name, else a dotenv file by path."""
    if which in loaded.spec.environments:
        eff = resolve(loaded, which, process_env={})
        return Side(which, "environment", dict(eff.values), frozenset(eff.secret_names))
    path = Path(which)
    if path.is_file():
        values = read_env_file(path)
        # Same rule as environ.resolve: a value under a secret-looking name is a secret.
        return Side(
            which, "file", values, frozenset(n for n, v in values.items() if is_secret(n, v))
        )
    known = ", ".join(loaded.spec.environments) or "none"
    raise UsageError(
        f"'{which}' is neither an environment of {loaded.display} nor an existing file",
        hint=f"known environments: {known}",
    )


def diff_envs(loaded: LoadedSpec, a: str, b: str) -> EnvDiffReport:
    """Compare two environments or env files; an identical secret on both sides is an error."""
    return compare(load_side(loaded, a), load_side(loaded, b), for_project(loaded.root))


def compare(a: Side, b: Side, fingerprint: Fingerprinter) -> EnvDiffReport:
    """The diff of two loaded sides."""
    report = EnvDiffReport("env-diff", a=a.label, b=b.label)
    for name in sorted({*a.values, *b.values}):
        # A browser-exposed value ships to every visitor: the same one everywhere is normal.
        secret = (name in a.secret_names or name in b.secret_names) and not is_browser_exposed(name)
        va, vb = a.values.get(name), b.values.get(name)
        category: Category
        if vb is None:
            category = "only_a"
            report.add("warning", "only_in_a", name, f"{name} is set in {a.label} only")
        elif va is None:
            category = "only_b"
            report.add("warning", "only_in_b", name, f"{name} is set in {b.label} only")
        elif hmac.compare_digest(fingerprint.digest(va), fingerprint.digest(vb)):
            category = "identical"
            if secret and va:
                report.add(
                    "error",
                    "shared_secret",
                    name,
                    f"{name} is secret and identical in {a.label} and {b.label}; "
                    "give each environment its own credential",
                )
        else:
            category = "different"
        report.rows.append(
            DiffRow(
                name,
                category,
                secret,
                a=fingerprint(va) if secret and va else None,
                b=fingerprint(vb) if secret and vb else None,
            )
        )
    return report
