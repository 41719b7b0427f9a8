"""API tokens: created with a role and a name, shown once, stored as a SHA-256 hash.

A token reads ``opsbook_<id>_<secret>``: the id finds the row, the hash of the whole token must
match it. Tokens are 256-bit random, so a fast hash is enough (nothing to brute-force).
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
import time
from dataclasses import dataclass

from opsbook.auth.roles import Principal, Role
from opsbook.errors import Unauthenticated, UsageError
from opsbook.store import Store
from opsbook.store import auth as q
from opsbook.store import events as chain

PREFIX = "opsbook_"
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$")
_TOUCH_EVERY = 60.0  # seconds between last_used_at writes, so reads stay reads


@dataclass(frozen=True)
class TokenInfo:
    """A token as listed: never its secret."""

    id: str
    name: str
    role: str
    created_at: float
    created_by: str
    revoked_at: float | None
    last_used_at: float | None


@dataclass(frozen=True)
class NewToken:
    info: TokenInfo
    token: str  # shown once, never stored


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def check_name(name: str, what: str = "token") -> str:
    if not _NAME.match(name):
        raise UsageError(
            f"{what} name {name[:60]!r} is not allowed",
            hint="use up to 100 letters, digits, '.', '_' or '-', starting with a letter or digit",
        )
    return name


def create_token(store: Store, *, name: str, role: str, created_by: str) -> NewToken:
    """Make a token; the returned ``token`` is the only copy of its secret.

    ``create_token(store, name="release-approver", role="approver", created_by="ops").token``
    """
    check_name(name)
    parsed = Role.parse(role)
    token_id = secrets.token_hex(6)
    token = f"{PREFIX}{token_id}_{secrets.token_urlsafe(32)}"
    now = time.time()
    with store.begin() as conn:
        q.insert_token(
            conn,
            id=token_id,
            name=name,
            role=parsed.value,
            secret_sha256=_digest(token),
            created_at=now,
            created_by=created_by,
        )
        chain.append(
            conn,
            "token_created",
            actor=created_by,
            data={"token": token_id, "name": name, "role": parsed.value},
        )
    info = TokenInfo(token_id, name, parsed.value, now, created_by, None, None)
    return NewToken(info, token)


def list_tokens(store: Store) -> list[TokenInfo]:
    with store.begin() as conn:
        rows = q.list_tokens(conn)
    return [
        TokenInfo(r.id, r.name, r.role, r.created_at, r.created_by, r.revoked_at, r.last_used_at)
        for r in rows
    ]


def revoke_token(store: Store, key: str, *, by: str) -> TokenInfo:
    """Revoke a token by name or id; it stops working at once, in every process."""
    now = time.time()
    with store.begin() as conn:
        row = q.token_by_name_or_id(conn, key)
        if row is None:
            raise UsageError(f"no token named '{key}'", hint="list them with `opsbook token list`")
        if row.revoked_at is None:
            q.revoke_token(conn, row.id, now)
            chain.append(conn, "token_revoked", actor=by, data={"token": row.id, "name": row.name})
    return TokenInfo(row.id, row.name, row.role, row.created_at, row.created_by, now, None)


def authenticate(store: Store, bearer: str | None) -> Principal:
    """The principal of a bearer token (``"Bearer opsbook_..."`` or the bare token).

    Raises Unauthenticated for a missing, malformed, unknown or revoked token; the message
    never repeats the token.
    """
    token = (bearer or "").strip()
    if token[:7].lower() == "bearer ":
        token = token[7:].strip()
    if not token:
        raise Unauthenticated("no credentials", hint="send Authorization: Bearer TOKEN")
    parts = token[len(PREFIX) :].split("_", 1) if token.startswith(PREFIX) else []
    if len(parts) != 2 or not parts[0] or len(token) > 200:
        raise Unauthenticated(
            "malformed token", hint="tokens look like opsbook_<id>_<secret>; see `opsbook token`"
        )
    now = time.time()
    with store.read() as conn:  # a read: authenticating never waits for the write lock
        row = q.get_token(conn, parts[0])
    if row is None or not hmac.compare_digest(row.secret_sha256, _digest(token)):
        raise Unauthenticated("unknown token", hint="create one with `opsbook token create`")
    if row.revoked_at is not None:
        raise Unauthenticated(f"token '{row.name}' was revoked")
    if row.last_used_at is None or now - row.last_used_at > _TOUCH_EVERY:
        with store.begin() as conn:
            q.touch_token(conn, row.id, now)
    return Principal("token", row.name, Role(row.role))
