"""Signed approval links for chat: HMAC-verified, single use, expiring.

An approver asks for a link to a gate (``POST /api/v1/runs/RUN/steps/STEP/link``) and posts it in
chat, or a notifier does. Opening the link shows the gate; pressing approve or reject there
decides it as that approver. The link carries run, step, approver, role, expiry and a nonce,
signed with a random key kept in the store (shared by every ``serve`` process). Opening it
(GET) changes nothing, so chat unfurlers cannot approve; deciding (POST) spends the nonce.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import secrets
import time
from dataclasses import dataclass

from opsbook.auth.roles import Principal, Role
from opsbook.errors import Unauthenticated
from opsbook.store import Store
from opsbook.store import auth as q

KEY_NAME = "approval_links"
DEFAULT_TTL = 15 * 60.0


@dataclass(frozen=True)
class LinkClaim:
    run_id: str
    step_id: str
    principal: Principal
    expires_at: float
    nonce: str


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def _sign(key: str, body: str) -> str:
    return _b64(hmac.new(key.encode(), body.encode(), hashlib.sha256).digest())


def make_link(
    store: Store,
    run_id: str,
    step_id: str,
    approver: Principal,
    *,
    ttl: float = DEFAULT_TTL,
    now: float | None = None,
) -> str:
    """A signed token for the link ``/approve/TOKEN``; the approver must be allowed to approve."""
    approver.require(Role.APPROVER, "an approval link")
    expires = (time.time() if now is None else now) + ttl
    payload = {
        "r": run_id,
        "s": step_id,
        "k": approver.kind,
        "a": approver.name,
        "role": approver.role.value,
        "exp": expires,
        "n": secrets.token_hex(12),
    }
    body = _b64(json.dumps(payload, separators=(",", ":")).encode())
    with store.begin() as conn:
        key = q.key(conn, KEY_NAME)
    return f"{body}.{_sign(key, body)}"


def read_link(store: Store, token: str, *, now: float | None = None) -> LinkClaim:
    """Verify signature and expiry (not use); Unauthenticated when forged, expired or spent."""
    body, _, signature = token.partition(".")
    if not body or not signature or len(token) > 2000:
        raise Unauthenticated("malformed approval link")
    with store.begin() as conn:
        key = q.key(conn, KEY_NAME)
    if not hmac.compare_digest(_sign(key, body), signature):
        raise Unauthenticated("approval link signature does not match (edited or forged)")
    try:
        p = json.loads(_unb64(body))
        claim = LinkClaim(
            str(p["r"]), str(p["s"]), Principal(p["k"], p["a"], Role(p["role"])), p["exp"], p["n"]
        )
    except (ValueError, KeyError, TypeError):
        raise Unauthenticated("malformed approval link") from None
    if (time.time() if now is None else now) > claim.expires_at:
        raise Unauthenticated("approval link expired", hint="ask for a new one")
    return claim


def spend_link(store: Store, token: str, *, now: float | None = None) -> LinkClaim:
    """Verify the link and mark it used; a second use raises Unauthenticated."""
    claim = read_link(store, token, now=now)
    from opsbook.errors import InvalidState

    try:
        with store.begin() as conn:
            q.use_link(conn, claim.nonce, time.time())
    except InvalidState:
        raise Unauthenticated("approval link was already used", hint="ask for a new one") from None
    return claim
