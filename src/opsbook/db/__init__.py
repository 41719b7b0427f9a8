"""The application's database: migration files, history, status, lint, migrate, RLS audit.

This package talks to the user's database (psycopg 3), never to opsbook's own store. Entry points:
:func:`target_for` resolves ``database:`` for an environment; :func:`get_status`,
:func:`lint_files`, :func:`migrate` and :func:`audit` do the work behind ``opsbook db ...`` and
the ``migrate`` step kind.
"""

from opsbook.db.lint import LintReport, lint_files
from opsbook.db.migrate import MigrateResult, migrate
from opsbook.db.rls import RlsReport, audit
from opsbook.db.status import Status, get_status
from opsbook.db.target import Target, make_target, target_for

__all__ = [
    "LintReport",
    "MigrateResult",
    "RlsReport",
    "Status",
    "Target",
    "audit",
    "get_status",
    "lint_files",
    "make_target",
    "migrate",
    "target_for",
]
