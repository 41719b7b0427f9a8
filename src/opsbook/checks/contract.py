"""``check env``: an environment's effective variables against the ``env`` contract.

The effective variables come from :func:`opsbook.environ.resolve` (default < process env, for
contract names only < env_file < vars). The built-in ``check: env`` step and ``opsbook check env``
both call :func:`check_env`. Findings and statuses name variables; values are never reported,
only, for secrets, their length and a keyed fingerprint (:mod:`opsbook.checks.fingerprint`).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from typing import Any, Literal

from opsbook.checks.detectors import credential_kinds
from opsbook.checks.findings import Report
from opsbook.checks.fingerprint import for_project
from opsbook.checks.public import is_browser_exposed
from opsbook.environ import Effective, resolve
from opsbook.spec.loader import LoadedSpec
from opsbook.spec.models import EnvVar

Status = Literal["set", "default", "missing", "unset", "empty", "invalid", "undeclared"]


@dataclass(frozen=True)
class VariableStatus:
    """One variable's state in an environment, without its value."""

    name: str
    status: Status
    source: str | None
    declared: bool
    required: bool
    secret: bool
    length: int | None = None
    fingerprint: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return {k: v for k, v in asdict(self).items() if v is not None}


@dataclass
class EnvReport(Report):
    """The result of checking one environment against the contract."""

    environment: str = ""
    env_file: str | None = None
    env_file_found: bool = False
    variables: list[VariableStatus] = field(default_factory=list)

    def details(self) -> dict[str, Any]:
        return {
            "environment": self.environment,
            "env_file": self.env_file,
            "env_file_found": self.env_file_found,
            "variables": [v.to_dict() for v in self.variables],
        }


def check_env(
    loaded: LoadedSpec, env_name: str, process_env: Mapping[str, str] | None = None
) -> EnvReport:
    """Check environment ``env_name`` against the contract.

    ``process_env`` defaults to ``os.environ``; raises UsageError for an unknown environment.
    """
    eff = resolve(loaded, env_name, process_env)
    report = EnvReport("env", environment=env_name)
    if eff.env_file is not None:
        report.env_file = _display(loaded, eff)
        report.env_file_found = eff.env_file.is_file()
        if not report.env_file_found:
            report.add(
                "warning",
                "env_file_missing",
                None,
                f"env_file {report.env_file} of environment '{env_name}' does not exist; "
                "variables come from vars, defaults and the process environment only",
                file=report.env_file,
            )
    fingerprint = for_project(loaded.root)
    contract = loaded.spec.env
    for name in sorted({*contract, *eff.values}):
        decl = contract.get(name)
        status = _status(report, eff, name, decl)
        value = eff.values.get(name)
        # A browser-exposed value is public once deployed; it is shown as secret only when the
        # contract says so (which is itself an error, public_secret).
        secret = name in eff.secret_names and (
            not is_browser_exposed(name) or bool(decl and decl.secret)
        )
        shown = secret and bool(value)
        report.variables.append(
            VariableStatus(
                name=name,
                status=status,
                source=eff.sources.get(name),
                declared=decl is not None,
                required=bool(decl and decl.required),
                secret=secret,
                length=len(value) if shown and value is not None else None,
                fingerprint=fingerprint(value) if shown and value is not None else None,
            )
        )
    _check_public(report, loaded, eff)
    # One variable's findings together, in name order, as the variables are listed.
    report.findings.sort(key=lambda f: f.variable or "")
    return report


def _display(loaded: LoadedSpec, eff: Effective) -> str:
    assert eff.env_file is not None
    try:
        return str(eff.env_file.relative_to(loaded.root.resolve()))
    except ValueError:
        return str(eff.env_file)


def _status(report: EnvReport, eff: Effective, name: str, decl: EnvVar | None) -> Status:
    value = eff.values.get(name)
    source = eff.sources.get(name)
    if decl is None and source == "vars":
        return "set"  # vars are declared in opsbook.yaml itself: configuration, not a stray
    if decl is None:
        report.add(
            "warning",
            "undeclared",
            name,
            f"{name} is set (from {source}) but not declared in the env contract; "
            "declare it under env: in opsbook.yaml or remove it",
        )
        return "undeclared"
    if value is None:
        if decl.required:
            report.add(
                "error",
                "missing_required",
                name,
                f"{name} is required but not set; set it in the environment's env_file, "
                "its vars or the process environment",
            )
            return "missing"
        return "unset"
    if value == "":
        severity: Literal["error", "info"] = "error" if decl.required else "info"
        hint = "; give it a value" if decl.required else ""
        report.add(severity, "empty_value", name, f"{name} is set (from {source}) but empty{hint}")
        return "empty"
    if decl.pattern and not re.search(decl.pattern, value):
        report.add(
            "error",
            "pattern_mismatch",
            name,
            f"{name} (from {source}) does not match the contract's pattern {decl.pattern!r}; "
            "check the value in its source",
        )
        return "invalid"
    if source == "default":
        report.add("info", "default_applied", name, f"{name} is not set; its default applies")
        return "default"
    return "set"


def _check_public(report: EnvReport, loaded: LoadedSpec, eff: Effective) -> None:
    """Browser-exposed variables must not be secret, declared or de facto."""
    contract = loaded.spec.env
    for name in sorted(contract):
        if contract[name].secret and is_browser_exposed(name):
            report.add(
                "error",
                "public_secret",
                name,
                f"{name} is declared secret but its prefix ships it to every browser; "
                "rename it without the public prefix or make it non-secret",
            )
    declared_secret = {
        n: v for n, v in eff.values.items() if n in contract and contract[n].secret and v
    }
    # Declared-secret public names were reported above; these are the ones nobody marked.
    public = sorted(
        n
        for n, v in eff.values.items()
        if v and is_browser_exposed(n) and not (n in contract and contract[n].secret)
    )
    kinds = credential_kinds(eff.values[n] for n in public)
    for name, found in zip(public, kinds, strict=True):
        value = eff.values[name]
        same = sorted(n for n, v in declared_secret.items() if v == value and n != name)
        if same:
            found = [*found, f"the value of secret {same[0]}"]
        if found:
            report.add(
                "error",
                "public_secret_value",
                name,
                f"{name} is browser-exposed but holds a secret-looking value "
                f"({', '.join(found)}); "
                "move the secret to a server-only variable and rotate it",
            )
