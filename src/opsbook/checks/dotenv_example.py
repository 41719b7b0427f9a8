"""``check dotenv-example``: the env contract and ``.env.example`` agree, both ways.

Every contract variable is listed in the example (new developers copy it, seed 004: "set all
vars from .env.example"), every example variable is in the contract, and since the example is
committed, no value in it may look like a real credential.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from opsbook.checks.detectors import credential_kinds
from opsbook.checks.findings import Report
from opsbook.environ import read_env_file
from opsbook.errors import UsageError
from opsbook.spec.loader import LoadedSpec

DEFAULT_FILE = ".env.example"
ASSIGNMENT = re.compile(r"^\s*(?:export\s+)?([A-Za-z_][A-Za-z0-9_]*)\s*=")


@dataclass
class DotenvExampleReport(Report):
    """Where the contract and the example file disagree."""

    file: str = ""
    missing_from_example: list[str] = field(default_factory=list)
    not_in_contract: list[str] = field(default_factory=list)

    def details(self) -> dict[str, Any]:
        return {
            "file": self.file,
            "missing_from_example": self.missing_from_example,
            "not_in_contract": self.not_in_contract,
        }


def example_path(loaded: LoadedSpec, file: Path | None) -> Path:
    """The example file to check: ``file`` or ``.env.example`` beside opsbook.yaml."""
    return file if file is not None else loaded.root / DEFAULT_FILE


def check_dotenv_example(loaded: LoadedSpec, file: Path | None = None) -> DotenvExampleReport:
    """Compare the contract with the example file; UsageError when the file does not exist."""
    path = example_path(loaded, file)
    if not path.is_file():
        raise UsageError(
            f"{path}: no such file",
            hint="create it with one NAME= line per contract variable, or pass the file to check",
        )
    display = _display(loaded, path)
    report = DotenvExampleReport("dotenv-example", file=display)
    values = read_env_file(path)
    lines = _lines(path)
    contract = loaded.spec.env
    for name in sorted(contract):
        if name not in values:
            report.missing_from_example.append(name)
            report.add(
                "error",
                "missing_from_example",
                name,
                f"{name} is in the env contract but not in {display}; add a line {name}=",
                file=display,
            )
    for name in sorted(values, key=lambda n: lines.get(n, 0)):
        if name not in contract:
            report.not_in_contract.append(name)
            report.add(
                "error",
                "not_in_contract",
                name,
                f"{name} is in {display} but not in the env contract; "
                "declare it under env: in opsbook.yaml or remove the line",
                file=display,
                line=lines.get(name),
            )
    names = [n for n, v in values.items() if v]
    for name, kinds in zip(names, credential_kinds(values[n] for n in names), strict=True):
        if kinds:
            report.add(
                "error",
                "example_secret_value",
                name,
                f"{name} in {display} holds what looks like a real {', '.join(kinds)}; "
                "replace it with a placeholder and rotate the credential",
                file=display,
                line=lines.get(name),
            )
    return report


def _lines(path: Path) -> dict[str, int]:
    found: dict[str, int] = {}
    for number, text in enumerate(path.read_text(errors="replace").splitlines(), start=1):
        match = ASSIGNMENT.match(text)
        if match:
            found.setdefault(match.group(1), number)
    return found


def _display(loaded: LoadedSpec, path: Path) -> str:
    try:
        return str(path.resolve().relative_to(loaded.root.resolve()))
    except ValueError:
        return str(path)
