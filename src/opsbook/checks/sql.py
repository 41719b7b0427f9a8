"""The ``sql`` check type: a query against the application's database and what it must return.

The database is ``database.url`` (or the check's own ``database:`` URL), PostgreSQL or SQLite,
opened read-only. ``expect`` compares the number of rows, the first column of the first row
(``value``), or that value as a number (``number: "< 100"``); without ``expect`` the query only
has to succeed.
"""

from __future__ import annotations

import asyncio
from typing import Any

from pydantic import Field

from opsbook.checks.base import CheckConfig, CheckContext, CheckResult, CheckType
from opsbook.checks.compare import Comparison, compare
from opsbook.errors import OpsbookError

Scalar = str | int | float | bool | None


class SqlExpect(CheckConfig):
    rows: Comparison | None = None
    """How many rows: ``0``, ``">= 1"``."""
    value: Scalar = Field(default=None)
    """The first column of the first row, equal to this."""
    number: Comparison | None = None
    """The first column of the first row, as a number, compared: ``"< 100"``."""


class SqlConfig(CheckConfig):
    sql: str
    """One query (read-only)."""
    database: str | None = None
    """The database URL; default ``database.url``."""
    expect: SqlExpect = Field(default_factory=SqlExpect)


class SqlCheck(CheckType):
    name = "sql"
    config_type = SqlConfig

    def validate(self, config: Any, spec: Any) -> list[str]:
        if config.database is None and spec.database is None:
            return ["no database to query; add database: {url: ...} or give the check database:"]
        return []

    async def run(self, ctx: CheckContext, config: Any) -> CheckResult:
        from opsbook.db.readonly import query

        result = CheckResult(ctx.name)
        url = config.database
        if url is None and ctx.spec is not None and ctx.spec.database is not None:
            url = ctx.render(ctx.spec.database.url)
        if not url:
            result.fail("no_database", "no database URL; set database.url or the check's database:")
            return result
        try:
            found = await asyncio.to_thread(
                query, url.strip(), config.sql, root=ctx.root, timeout=ctx.timeout
            )
        except OpsbookError as err:
            result.summary = "error"
            result.fail("query_failed", str(err))
            return result
        result.summary = f"{len(found.rows)} row{'s' if len(found.rows) != 1 else ''}"
        _expect(result, config.expect, found.rows)
        return result


def _expect(result: CheckResult, expect: SqlExpect, rows: list[tuple[Any, ...]]) -> None:
    first = rows[0][0] if rows and rows[0] else None
    number = _number(first)
    result.value = number
    if expect.rows is not None and not compare(expect.rows, len(rows)):
        result.fail("rows", f"{len(rows)} rows, expected {expect.rows}")
    if (
        "value" in expect.model_fields_set
        and first != expect.value
        and str(first) != str(expect.value)
    ):
        result.fail("value", f"value is {first!r}, expected {expect.value!r}")
    if expect.number is not None:
        if number is None:
            result.fail(
                "number", f"value {first!r} is not a number to compare with {expect.number!r}"
            )
        elif not compare(expect.number, number):
            result.fail("number", f"value is {number:g}, expected {expect.number}")


def _number(value: Any) -> float | None:
    if isinstance(value, bool) or value is None:
        return None
    try:
        return float(value)
    except (TypeError, ValueError):
        return None
