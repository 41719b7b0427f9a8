"""Numbered schema migrations of the store, applied in order and recorded in ``opsbook_schema``.

Version 1 creates the tables as ``schema.py`` had them when version 1 shipped. A later change to
``schema.py`` must come with a new numbered entry here (e.g. ``ALTER TABLE ... ADD COLUMN``), so
stores written by older opsbook versions are upgraded in place.
"""

from __future__ import annotations

import time
from collections.abc import Callable

from sqlalchemy import Connection, insert, inspect, select, text, update

from opsbook.errors import StoreVersionError
from opsbook.store import schema

GENESIS_HASH = "0" * 64


def _v1(conn: Connection) -> None:
    schema.metadata.create_all(
        conn,
        tables=[
            schema.runs,
            schema.steps,
            schema.attempts,
            schema.approvals,
            schema.events,
            schema.chain,
        ],
    )
    conn.execute(insert(schema.chain).values(id=1, head_seq=0, head_hash=GENESIS_HASH))


_V2_COLUMNS = (
    (schema.events, "mac"),
    (schema.approvals, "via"),
    (schema.approvals, "signature"),
    (schema.attempts, "pgid"),
    (schema.attempts, "host"),
    (schema.attempts, "boot_id"),
)


def _v2(conn: Connection) -> None:
    # A store created by this version already has them (version 1 creates the current tables).
    for table, name in _V2_COLUMNS:
        if name not in {c["name"] for c in inspect(conn).get_columns(table.name)}:
            kind = table.c[name].type.compile(dialect=conn.dialect)
            conn.execute(text(f"ALTER TABLE {table.name} ADD COLUMN {name} {kind}"))


def _v6(conn: Connection) -> None:
    schema.metadata.create_all(
        conn,
        tables=[
            schema.incidents,
            schema.incident_pages,
            schema.schedule_claims,
            schema.handoffs,
        ],
    )
    schema.events_at.create(conn, checkfirst=True)


def _v7(conn: Connection) -> None:
    schema.metadata.create_all(conn, tables=[schema.flag_states, schema.flag_changes])


def _v8(conn: Connection) -> None:
    schema.metadata.create_all(
        conn,
        tables=[schema.tokens, schema.users, schema.sessions, schema.link_uses, schema.keys],
    )


def _v5(conn: Connection) -> None:
    schema.metadata.create_all(
        conn,
        tables=[
            schema.alert_instances,
            schema.outbox,
            schema.notify_groups,
            schema.silences,
            schema.leases,
            schema.samples,
        ],
    )


def _v3(conn: Connection) -> None:
    # A store made by this version already has the column (version 1 creates runs from
    # schema.py); one made before gets it added.
    columns = {c["name"] for c in inspect(conn).get_columns(schema.runs.name)}
    if "leased_at" not in columns:
        conn.execute(text(f"ALTER TABLE {schema.runs.name} ADD COLUMN leased_at FLOAT"))


def _v9(conn: Connection) -> None:
    # Alert instances are keyed by their label set's fingerprint, which is now Prometheus' own
    # (opsbook.monitor.labels); stored instances are re-keyed so a firing alert stays the same
    # instance (no new pending, no second page) across the upgrade.
    from opsbook.monitor.labels import fingerprint

    a = schema.alert_instances
    # A store made by this version has the band columns already (version 5 creates the table).
    columns = {c["name"] for c in inspect(conn).get_columns(a.name)}
    for name in ("band_low", "band_high"):
        if name not in columns:
            conn.execute(text(f"ALTER TABLE {a.name} ADD COLUMN {name} FLOAT"))
    for row in conn.execute(select(a.c.project, a.c.alert, a.c.fingerprint, a.c.labels)).all():
        new = fingerprint(dict(row.labels))
        if new != row.fingerprint:
            conn.execute(
                update(a)
                .where(
                    a.c.project == row.project,
                    a.c.alert == row.alert,
                    a.c.fingerprint == row.fingerprint,
                )
                .values(fingerprint=new)
            )


MIGRATIONS: list[tuple[int, str, Callable[[Connection], None]]] = [
    (1, "runs, steps, attempts, approvals, hash-chained events", _v1),
    (2, "event MACs, approval signatures, attempt process groups", _v2),
    (3, "runs: when the lease holder took the run (leased_at)", _v3),
    (5, "monitoring: alerts, outbox, notify groups, silences, leases, samples", _v5),
    (6, "incidents, pages, schedule claims, handoffs; events by time", _v6),
    (7, "feature flag states and their changes", _v7),
    (8, "API tokens, dashboard users and sessions, approval links", _v8),
    (9, "alerts: keyed by Prometheus' label-set fingerprints; anomaly band edges", _v9),
]
LATEST = MIGRATIONS[-1][0]


def current_version(conn: Connection) -> int:
    if not inspect(conn).has_table(schema.schema_version.name):
        return 0
    versions = conn.execute(select(schema.schema_version.c.version)).scalars().all()
    return max(versions, default=0)


def migrate(conn: Connection) -> int:
    """Bring the store to the latest version; returns the version it was at before."""
    schema.schema_version.create(conn, checkfirst=True)
    before = current_version(conn)
    if before > LATEST:
        raise StoreVersionError(
            f"the store is at schema version {before} but this opsbook knows up to {LATEST}",
            hint="upgrade opsbook",
        )
    # Numbers are reserved per area and land in any order: apply each one this store lacks,
    # not only those above its highest (a store made at 8 still needs a 6 that landed later).
    applied = set(conn.execute(select(schema.schema_version.c.version)).scalars())
    # Versions are applied by set, not by "above the highest": migrations numbered by parallel
    # branches (2, 3, 5...) may land in any order, and a store at 5 must still get 3.
    applied = set(conn.execute(select(schema.schema_version.c.version)).scalars().all())
    for version, description, apply in MIGRATIONS:
        if version not in applied:
            apply(conn)
            conn.execute(
                insert(schema.schema_version).values(
                    version=version, applied_at=time.time(), description=description
                )
            )
    return before
