"""The executor's hottest statements, run on the driver's cursor inside SQLAlchemy's transaction.

A sequential runbook writes about eight statements per step boundary. Through SQLAlchemy's
statement layer each costs about 13 µs of Python on SQLite, against 2 µs for SQLite to run it
(measured in bench/run_1000.py; see docs/performance.md). These helpers build plain
``INSERT``/``UPDATE``/``SELECT`` text from the table definitions in :mod:`opsbook.store.schema`
once per shape, and run it on the DBAPI cursor of the caller's connection, so the statements
join the caller's transaction (and its ``BEGIN IMMEDIATE`` on SQLite, its row locks on
PostgreSQL) exactly as before. JSON columns are encoded as SQLAlchemy encodes them
(``json.dumps``). Driver errors are re-raised as SQLAlchemy's exceptions, so
:meth:`opsbook.store.database.Store.begin` translates them at the same single boundary.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from typing import Any

from sqlalchemy import JSON, Connection, Table
from sqlalchemy.exc import DBAPIError

from opsbook.wording import noun

_NAMED = re.compile(r":(\w+)")
_sql_cache: dict[tuple[Any, ...], str] = {}
_json_columns: dict[str, frozenset[str]] = {}


def execute(
    conn: Connection, sql: str, params: Mapping[str, Any] | Sequence[Mapping[str, Any]]
) -> int:
    """Run ``sql`` (``:name`` parameters) once, or once per mapping of a sequence; the row count."""
    with _cursor(conn, sql, params) as (cursor, text):
        if isinstance(params, Mapping):
            cursor.execute(text, params)
        else:
            cursor.executemany(text, params)
        return int(cursor.rowcount)


def fetch_one(conn: Connection, sql: str, params: Mapping[str, Any]) -> tuple[Any, ...] | None:
    """The first row of a query, as a tuple."""
    with _cursor(conn, sql, params) as (cursor, text):
        cursor.execute(text, params)
        row = cursor.fetchone()
        return None if row is None else tuple(row)


@contextmanager
def _cursor(conn: Connection, sql: str, params: Any) -> Iterator[tuple[Any, str]]:
    """A DBAPI cursor of conn and sql in the driver's parameter style; driver errors re-raised
    as SQLAlchemy's (OperationalError, IntegrityError, ...)."""
    text = sql
    if conn.dialect.paramstyle in ("pyformat", "format"):  # psycopg: %(name)s
        key = ("pyformat", sql)
        cached = _sql_cache.get(key)
        if cached is None:
            cached = _sql_cache[key] = _NAMED.sub(r"%(\1)s", sql)
        text = cached
    dbapi = conn.dialect.loaded_dbapi
    cursor = conn.connection.cursor()
    try:
        yield cursor, text
    except dbapi.Error as err:
        raise DBAPIError.instance(sql, params, err, dbapi.Error, dialect=conn.dialect) from err
    finally:
        cursor.close()


def insert_sql(table: Table, columns: Sequence[str]) -> str:
    """``INSERT INTO table (columns) VALUES (:columns)``, built once per column list."""
    key = ("insert", table.name, tuple(columns))
    sql = _sql_cache.get(key)
    if sql is None:
        _check(table, columns)
        sql = _sql_cache[key] = (
            f"INSERT INTO {table.name} ({', '.join(columns)})"
            f" VALUES ({', '.join(':' + c for c in columns)})"
        )
    return sql


def update_sql(table: Table, columns: Sequence[str], where: Sequence[str]) -> str:
    """``UPDATE table SET c = :c ... WHERE w = :w_w AND ...``, built once per shape.

    Conditions are bound as ``w_<column>`` so a column can be both set and tested.
    """
    key = ("update", table.name, tuple(columns), tuple(where))
    sql = _sql_cache.get(key)
    if sql is None:
        _check(table, [*columns, *where])
        sets = ", ".join(f"{c} = :{c}" for c in columns)
        conditions = " AND ".join(f"{w} = :w_{w}" for w in where)
        sql = _sql_cache[key] = f"UPDATE {table.name} SET {sets} WHERE {conditions}"
    return sql


def encode(table: Table, values: Mapping[str, Any]) -> dict[str, Any]:
    """Values as the driver takes them: JSON columns encoded like SQLAlchemy's JSON type."""
    json_columns = _json_columns.get(table.name)
    if json_columns is None:
        json_columns = _json_columns[table.name] = frozenset(
            c.name for c in table.columns if isinstance(c.type, JSON)
        )
    return {k: json.dumps(v) if k in json_columns else v for k, v in values.items()}


def _check(table: Table, columns: Sequence[str]) -> None:
    # Column names become SQL text: only the table's own columns are accepted.
    unknown = [c for c in columns if c not in table.columns]
    if unknown:
        raise ValueError(f"{table.name} has no {noun(len(unknown), 'column')} {', '.join(unknown)}")
