"""Does a value look like a real credential? detect-secrets' specific detectors plus ours.

Only detectors that recognise a credential *format* are used here (Stripe, AWS, GitHub, Slack,
private keys, URLs with a password, ...). detect-secrets' entropy and keyword detectors are left
out on purpose: browser-exposed variables legitimately hold high-entropy public keys (PostHog
``phc_``, the Supabase anon JWT, Sentry DSNs), and flagging those would bury the real leaks.

opsbook adds two rules detect-secrets lacks: a Stripe live key of any length (detect-secrets
wants exactly 24 characters after ``sk_live_``) and a Supabase ``service_role`` JWT, which
bypasses row-level security and is the classic key pasted into ``NEXT_PUBLIC_SUPABASE_ANON_KEY``.
"""

from __future__ import annotations

import base64
import binascii
import json
import re
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager

from detect_secrets.core.scan import scan_line
from detect_secrets.settings import default_settings

# Detectors that fire on any random-looking or password-ish string; see the module docstring.
GENERIC_TYPES = frozenset(
    {
        "Base64 High Entropy String",
        "Hex High Entropy String",
        "Secret Keyword",
        "JSON Web Token",
        "Public IP (ipv4)",
    }
)
STRIPE_LIVE = re.compile(r"\b[rs]k_live_[0-9A-Za-z]{8,}")
JWT = re.compile(r"\beyJ[A-Za-z0-9_-]+\.(eyJ[A-Za-z0-9_-]+)\.[A-Za-z0-9_-]*")


def stripe_live_keys(text: str) -> list[str]:
    """Stripe live secret (``sk_live_``) and restricted (``rk_live_``) keys in text."""
    return STRIPE_LIVE.findall(text)


def is_service_role_jwt(text: str) -> bool:
    """Whether text holds a JWT whose payload says ``"role": "service_role"`` (Supabase)."""
    for payload in JWT.findall(text):
        try:
            claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
        except (binascii.Error, ValueError, UnicodeDecodeError):
            continue
        if isinstance(claims, dict) and claims.get("role") == "service_role":
            return True
    return False


def _kinds(value: str) -> list[str]:
    kinds: list[str] = []
    if stripe_live_keys(value):
        kinds.append("Stripe live key")
    if is_service_role_jwt(value):
        kinds.append("Supabase service_role key")
    for found in scan_line(value):
        if found.type in GENERIC_TYPES or found.type in kinds:
            continue
        if found.type == "Stripe Access Key" and "Stripe live key" in kinds:
            continue
        kinds.append(found.type)
    return kinds


@contextmanager
def credential_detector() -> Iterator[Callable[[str], list[str]]]:
    """A function naming the credential kinds a value looks like, inside detect-secrets' settings.

    Entering the settings reconfigures detect-secrets' global plugin registry, which is too slow
    to do per value; callers scanning many values (or files) enter it once.
    """
    with default_settings():
        yield _kinds


def credential_kinds(values: Iterable[str]) -> list[list[str]]:
    """For each value, the kinds of credential it looks like (empty when none)."""
    with credential_detector() as kinds:
        return [kinds(v) for v in values]
