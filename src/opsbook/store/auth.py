"""Queries of authentication: API tokens, dashboard users, sessions, used approval links.

Only hashes are stored: a token's or a session cookie's SHA-256, a password's scrypt hash.
"""

from __future__ import annotations

import secrets
from typing import Any

from sqlalchemy import Connection, Row, and_, delete, insert, select, update
from sqlalchemy.exc import IntegrityError

from opsbook.errors import InvalidState, UsageError
from opsbook.store import schema

T = schema.tokens
U = schema.users
SE = schema.sessions


def insert_token(conn: Connection, **values: Any) -> None:
    """Record a token; UsageError when its name is taken."""
    try:
        with conn.begin_nested():
            conn.execute(insert(T).values(**values))
    except IntegrityError:
        raise UsageError(
            f"a token named '{values['name']}' exists",
            hint="choose another --name, or revoke it first with `opsbook token revoke NAME`",
        ) from None


def get_token(conn: Connection, token_id: str) -> Row[Any] | None:
    return conn.execute(select(T).where(T.c.id == token_id)).first()


def token_by_name_or_id(conn: Connection, key: str) -> Row[Any] | None:
    return conn.execute(select(T).where((T.c.name == key) | (T.c.id == key))).first()


def list_tokens(conn: Connection) -> list[Row[Any]]:
    return list(conn.execute(select(T).order_by(T.c.created_at)).all())


def revoke_token(conn: Connection, token_id: str, now: float) -> None:
    conn.execute(update(T).where(T.c.id == token_id).values(revoked_at=now))


def touch_token(conn: Connection, token_id: str, now: float) -> None:
    conn.execute(update(T).where(T.c.id == token_id).values(last_used_at=now))


def insert_user(conn: Connection, **values: Any) -> None:
    try:
        with conn.begin_nested():
            conn.execute(insert(U).values(**values))
    except IntegrityError:
        raise UsageError(
            f"a user named '{values['name']}' exists",
            hint="remove it first with `opsbook user remove NAME`",
        ) from None


def get_user(conn: Connection, name: str) -> Row[Any] | None:
    return conn.execute(select(U).where(U.c.name == name)).first()


def list_users(conn: Connection) -> list[Row[Any]]:
    return list(conn.execute(select(U).order_by(U.c.name)).all())


def delete_user(conn: Connection, name: str) -> bool:
    conn.execute(delete(SE).where(SE.c.user_name == name))
    return conn.execute(delete(U).where(U.c.name == name)).rowcount == 1


def set_user(conn: Connection, name: str, **values: Any) -> None:
    conn.execute(update(U).where(U.c.name == name).values(**values))


def insert_session(conn: Connection, **values: Any) -> None:
    conn.execute(insert(SE).values(**values))


def get_session(conn: Connection, id_sha256: str, now: float) -> Row[Any] | None:
    """The live session and its user's role, or None."""
    return conn.execute(
        select(SE, U.c.role)
        .join(U, U.c.name == SE.c.user_name)
        .where(and_(SE.c.id_sha256 == id_sha256, SE.c.expires_at > now))
    ).first()


def delete_session(conn: Connection, id_sha256: str) -> None:
    conn.execute(delete(SE).where(SE.c.id_sha256 == id_sha256))


def use_link(conn: Connection, nonce: str, now: float) -> None:
    """Mark an approval link used; InvalidState when it was used before (single use)."""
    try:
        with conn.begin_nested():
            conn.execute(insert(schema.link_uses).values(nonce=nonce, used_at=now))
    except IntegrityError:
        raise InvalidState("this approval link was already used") from None


def key(conn: Connection, name: str) -> str:
    """A random key shared by every process on this store, made on first use."""
    found = conn.execute(select(schema.keys.c.value).where(schema.keys.c.name == name)).scalar()
    if found is not None:
        return str(found)
    value = secrets.token_hex(32)
    try:
        with conn.begin_nested():
            conn.execute(insert(schema.keys).values(name=name, value=value))
    except IntegrityError:  # another process made it first
        return str(
            conn.execute(select(schema.keys.c.value).where(schema.keys.c.name == name)).scalar_one()
        )
    return value
