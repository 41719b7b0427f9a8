"""Findings: what a check reports, and the report every check returns.

A finding names a variable or a file location and says what is wrong; it never holds a value.
``severity`` is ``error`` (the check fails, exit 1), ``warning`` (worth a look, exit 0) or
``info`` (what happened, such as a default applied).
"""

from __future__ import annotations

from collections import Counter
from dataclasses import asdict, dataclass, field
from typing import Any, Literal

Severity = Literal["error", "warning", "info"]
SEVERITIES: tuple[Severity, ...] = ("error", "warning", "info")


@dataclass(frozen=True)
class Finding:
    """One thing a check found.

    >>> Finding("error", "missing_required", "SENTRY_DSN", "SENTRY_DSN is required but not set")
    ... # doctest: +ELLIPSIS
    Finding(severity='error', code='missing_required', variable='SENTRY_DSN', ...)
    """

    severity: Severity
    code: str
    variable: str | None
    message: str
    file: str | None = None
    line: int | None = None
    fix: str | None = None

    @property
    def where(self) -> str | None:
        """``FILE:LINE`` (or ``FILE``) when the finding is about a place in a file."""
        if self.file is None:
            return None
        return f"{self.file}:{self.line}" if self.line else self.file

    def to_dict(self) -> dict[str, Any]:
        """Always severity, code, variable (or null) and message; location and fix when known."""
        return {k: v for k, v in asdict(self).items() if v is not None or k == "variable"}


@dataclass
class Report:
    """What one check found. Subclasses add the check's own details."""

    check: str
    findings: list[Finding] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        """True when no finding is an error."""
        return not any(f.severity == "error" for f in self.findings)

    def counts(self) -> dict[str, int]:
        counted = Counter(f.severity for f in self.findings)
        return {s: counted.get(s, 0) for s in SEVERITIES}

    def add(
        self,
        severity: Severity,
        code: str,
        variable: str | None,
        message: str,
        **where: Any,
    ) -> Finding:
        finding = Finding(severity, code, variable, message, **where)
        self.findings.append(finding)
        return finding

    def details(self) -> dict[str, Any]:
        """The check's own data for ``--json`` (overridden by subclasses)."""
        return {}

    def to_dict(self) -> dict[str, Any]:
        return {
            "check": self.check,
            "ok": self.ok,
            "counts": self.counts(),
            **self.details(),
            "findings": [f.to_dict() for f in self.findings],
        }
