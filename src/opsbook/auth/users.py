"""Dashboard users: a name, a role and a scrypt password hash; logins open server-side sessions.

Failed logins are rate-limited per user in the store (so every ``serve`` process agrees): after
``MAX_FAILURES`` wrong passwords in a row the user is locked for ``LOCK_SECONDS``, doubling with
each further failure. The session cookie and its CSRF token are random; only the cookie's
SHA-256 is stored.
"""

from __future__ import annotations

import base64
import functools
import hashlib
import hmac
import secrets
import time
from dataclasses import dataclass

from opsbook.auth.roles import Principal, Role
from opsbook.auth.tokens import check_name
from opsbook.errors import Unauthenticated, UsageError
from opsbook.store import Store
from opsbook.store import auth as q
from opsbook.store import events as chain

MAX_FAILURES = 5
LOCK_SECONDS = 60.0
SESSION_SECONDS = 12 * 3600.0
_SCRYPT = (2**14, 8, 1)


def hash_password(password: str) -> str:
    n, r, p = _SCRYPT
    salt = secrets.token_bytes(16)
    digest = hashlib.scrypt(password.encode(), salt=salt, n=n, r=r, p=p, dklen=32)
    b64 = base64.b64encode
    return f"scrypt${n}${r}${p}${b64(salt).decode()}${b64(digest).decode()}"


def verify_password(password: str, stored: str) -> bool:
    try:
        _, n, r, p, salt, digest = stored.split("$")
        got = hashlib.scrypt(
            password.encode(),
            salt=base64.b64decode(salt),
            n=int(n),
            r=int(r),
            p=int(p),
            dklen=32,
        )
    except ValueError:
        return False
    return hmac.compare_digest(got, base64.b64decode(digest))


@functools.cache
def _dummy_hash() -> str:
    return hash_password(secrets.token_hex(8))


@dataclass(frozen=True)
class UserInfo:
    name: str
    role: str
    created_at: float
    locked_until: float | None


def add_user(store: Store, *, name: str, role: str, password: str, by: str) -> UserInfo:
    """Create a dashboard user; the password must have at least 8 characters."""
    check_name(name, "user")
    parsed = Role.parse(role)
    if len(password) < 8:
        raise UsageError("the password is shorter than 8 characters")
    now = time.time()
    with store.begin() as conn:
        q.insert_user(
            conn,
            name=name,
            role=parsed.value,
            password_hash=hash_password(password),
            created_at=now,
            failed_logins=0,
        )
        chain.append(conn, "user_added", actor=by, data={"user": name, "role": parsed.value})
    return UserInfo(name, parsed.value, now, None)


def list_users(store: Store) -> list[UserInfo]:
    with store.begin() as conn:
        return [UserInfo(r.name, r.role, r.created_at, r.locked_until) for r in q.list_users(conn)]


def remove_user(store: Store, name: str, *, by: str) -> None:
    with store.begin() as conn:
        if not q.delete_user(conn, name):
            raise UsageError(f"no user named '{name}'", hint="list them with `opsbook user list`")
        chain.append(conn, "user_removed", actor=by, data={"user": name})


@dataclass(frozen=True)
class Session:
    """A logged-in session: ``cookie`` goes to the browser, ``csrf`` into every form."""

    cookie: str
    csrf: str
    principal: Principal


def _sha(value: str) -> str:
    return hashlib.sha256(value.encode()).hexdigest()


def login(store: Store, name: str, password: str, *, now: float | None = None) -> Session:
    """Check a password and open a session; Unauthenticated (the same message for an unknown
    user and a wrong password) or, while locked, Unauthenticated saying for how long."""
    now = time.time() if now is None else now
    with store.begin() as conn:
        row = q.get_user(conn, name[:200])
        if row is not None and row.locked_until is not None and row.locked_until > now:
            raise Unauthenticated(
                f"too many failed logins; try again in {row.locked_until - now:.0f}s"
            )
    # scrypt outside the transaction: it takes tens of milliseconds by design.
    # An unknown name costs the same scrypt as a wrong password: timing tells nothing.
    ok = verify_password(password, row.password_hash if row is not None else _dummy_hash())
    ok = ok and row is not None
    if row is None:
        raise Unauthenticated("wrong user name or password")
    with store.begin() as conn:
        if not ok:
            # Recorded before raising: an exception inside the transaction would roll it back.
            failures = int(row.failed_logins or 0) + 1
            locked = None
            if failures >= MAX_FAILURES:
                locked = now + LOCK_SECONDS * 2 ** min(failures - MAX_FAILURES, 10)
            q.set_user(conn, row.name, failed_logins=failures, locked_until=locked)
            chain.append(
                conn, "login_failed", actor=f"user:{row.name}", data={"failures": failures}
            )
        else:
            q.set_user(conn, row.name, failed_logins=0, locked_until=None)
            cookie, csrf = secrets.token_urlsafe(32), secrets.token_urlsafe(32)
            q.insert_session(
                conn,
                id_sha256=_sha(cookie),
                user_name=row.name,
                csrf=csrf,
                created_at=now,
                expires_at=now + SESSION_SECONDS,
            )
            chain.append(conn, "login", actor=f"user:{row.name}", data={})
    if not ok:
        raise Unauthenticated("wrong user name or password")
    return Session(cookie, csrf, Principal("user", row.name, Role(row.role)))


def session(store: Store, cookie: str | None) -> Session:
    """The live session of a cookie; Unauthenticated when there is none."""
    if not cookie or len(cookie) > 200:
        raise Unauthenticated("not logged in", hint="log in at /login")
    with store.read() as conn:
        row = q.get_session(conn, _sha(cookie), time.time())
    if row is None:
        raise Unauthenticated("session expired or unknown", hint="log in at /login")
    return Session(cookie, row.csrf, Principal("user", row.user_name, Role(row.role)))


def logout(store: Store, cookie: str) -> None:
    with store.begin() as conn:
        q.delete_session(conn, _sha(cookie))
