"""Row level security audit of the tables in exposed schemas (``database.schemas``).

Findings, read from the live catalog (``pg_class``, ``pg_policies``):

- ``rls-disabled``: a table without row level security: any role with a grant reads every row
  (on Supabase, ``anon`` through the public API);
- ``no-policy``: RLS is enabled but the table has no policy: every query by a non-owner sees
  nothing (usually a forgotten policy rather than intent);
- ``anon-write``: a permissive policy lets ``anon`` insert, update or delete, or lets ``public``
  (every role, including ``anon``) do so unconditionally;
- ``using-true``: a policy whose ``USING`` or ``WITH CHECK`` is ``true`` for anyone.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from opsbook.checks.findings import Finding, Report
from opsbook.db.target import Target, connect

WRITE_COMMANDS = ("ALL", "INSERT", "UPDATE", "DELETE")
ANONYMOUS = ("anon", "public")


@dataclass(frozen=True)
class RlsFinding(Finding):
    """The shared Finding (``code`` is the rule, such as ``rls-disabled``) about a table."""

    table: str = ""
    policy: str | None = None

    def __str__(self) -> str:
        return f"{self.table}: {self.code}: {self.message}"


def rls_finding(rule: str, table: str, message: str, policy: str | None = None) -> RlsFinding:
    """A row level security finding (always an error: `db rls` exits 1 on any)."""
    return RlsFinding("error", rule, None, message, table=table, policy=policy)


@dataclass
class RlsReport(Report):
    """What ``opsbook db rls`` reports: the shared Report plus the schemas and tables read."""

    schemas: list[str] = field(default_factory=list)
    tables: int = 0

    def details(self) -> dict[str, Any]:
        return {"schemas": self.schemas, "tables": self.tables}


_TABLES = """
SELECT n.nspname, c.relname, c.relrowsecurity
FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
WHERE c.relkind IN ('r', 'p') AND n.nspname = ANY(%s) AND NOT c.relispartition
ORDER BY n.nspname, c.relname
"""

_POLICIES = """
SELECT schemaname, tablename, policyname, permissive, roles::text[], cmd, qual, with_check
FROM pg_policies WHERE schemaname = ANY(%s)
ORDER BY schemaname, tablename, policyname
"""


def _is_true(expr: str | None) -> bool:
    return expr is not None and expr.strip().strip("()").strip().lower() == "true"


def audit(target: Target) -> RlsReport:
    """Audit the exposed schemas of the target database."""
    schemas = list(target.config.schemas)
    report = RlsReport("rls", schemas=schemas)
    with connect(target) as conn:
        tables = conn.execute(_TABLES, (schemas,)).fetchall()
        policies = conn.execute(_POLICIES, (schemas,)).fetchall()
    by_table: dict[str, list[tuple[Any, ...]]] = {}
    for row in policies:
        by_table.setdefault(f"{row[0]}.{row[1]}", []).append(row)
    report.tables = len(tables)
    for schema, name, enabled in tables:
        table = f"{schema}.{name}"
        if not enabled:
            report.findings.append(
                rls_finding(
                    "rls-disabled",
                    table,
                    "row level security is not enabled; every role with a grant reads all rows; "
                    f"run ALTER TABLE {table} ENABLE ROW LEVEL SECURITY and add policies",
                )
            )
        elif table not in by_table:
            report.findings.append(
                rls_finding(
                    "no-policy",
                    table,
                    "row level security is enabled but no policy exists, so no client can read "
                    "or write it; add a policy (or say why in a comment on the table)",
                )
            )
        for row in by_table.get(table, []):
            report.findings += _policy_findings(table, row)
    return report


def _policy_findings(table: str, row: tuple[Any, ...]) -> list[RlsFinding]:
    _, _, policy, permissive, roles, cmd, qual, with_check = row
    if permissive != "PERMISSIVE":
        return []  # restrictive policies only narrow access
    roles = [str(r) for r in roles or ()]
    found = []
    writes = cmd in WRITE_COMMANDS
    unconditional = _is_true(with_check) or (with_check is None and _is_true(qual))
    anon_roles = [r for r in roles if r == "anon" or (r == "public" and unconditional)]
    if writes and anon_roles:
        found.append(
            rls_finding(
                "anon-write",
                table,
                f"policy {policy!r} lets {', '.join(anon_roles)} {cmd.lower()} rows; restrict it "
                "with TO authenticated and a condition on auth.uid()",
                policy,
            )
        )
    if _is_true(qual) or _is_true(with_check):
        clause = "USING (true)" if _is_true(qual) else "WITH CHECK (true)"
        found.append(
            rls_finding(
                "using-true",
                table,
                f"policy {policy!r} ({cmd} TO {', '.join(roles)}) has {clause}: it admits every "
                "row; write a condition that names the owner",
                policy,
            )
        )
    return found
