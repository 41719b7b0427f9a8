"""Roles and the principal a request acts as.

Roles are ordered: each one may do what the ones before it may.

- ``viewer``: read runs, releases, the audit log, alerts, incidents, flags;
- ``operator``: also start, resume and abort runs, ack and note incidents, set flags;
- ``approver``: also approve or reject gates and confirmations;
- ``admin``: also manage tokens and users.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from opsbook.errors import Forbidden, UsageError


class Role(StrEnum):
    VIEWER = "viewer"  # reads everything
    OPERATOR = "operator"  # starts, resumes, aborts runs; acts on incidents and flags
    APPROVER = "approver"  # answers gates and confirmations
    ADMIN = "admin"  # manages tokens and users

    @property
    def rank(self) -> int:
        return list(Role).index(self)

    @classmethod
    def parse(cls, value: str) -> Role:
        """``Role.parse("approver")``; UsageError naming the choices otherwise."""
        try:
            return cls(value)
        except ValueError:
            raise UsageError(
                f"unknown role '{value}'", hint="use one of " + ", ".join(r.value for r in cls)
            ) from None


@dataclass(frozen=True)
class Principal:
    """Who a request acts as: a token (``token:NAME``) or a dashboard user (``user:NAME``).

    ``actor`` is the name written into every audited event and compared with a run's operator
    for ``approvers: {distinct: true}``.
    """

    kind: str  # token | user
    name: str
    role: Role

    @property
    def actor(self) -> str:
        return f"{self.kind}:{self.name}"

    def can(self, role: Role) -> bool:
        return self.role.rank >= role.rank

    def require(self, role: Role, action: str) -> None:
        """Forbidden unless this principal's role is at least ``role``."""
        if not self.can(role):
            raise Forbidden(
                f"{self.actor} has role {self.role.value}; {action} needs {role.value}",
                hint=f"use a token or login with role {role.value} or higher",
            )
