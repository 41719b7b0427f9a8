"""Keeping secret values out of everything opsbook prints or stores.

A :class:`Masker` replaces each secret, and its URL-encoded and base64 forms (at every byte
alignment, so a secret inside a larger base64 payload is caught too), by ``***``.
"""

from __future__ import annotations

import base64
import re
from collections.abc import Iterable
from urllib.parse import quote, quote_plus

MASK = "***"
MIN_SECRET_LENGTH = 4
"""Shorter values are not masked: masking "1" or "yes" would shred every line of output."""


def _base64_forms(secret: bytes) -> set[str]:
    forms: set[str] = set()
    for alphabet in (base64.b64encode, base64.urlsafe_b64encode):
        for offset in range(3):
            encoded = alphabet(b"\0" * offset + secret).decode().rstrip("=")
            start = -(-offset * 4 // 3)  # first character holding only secret bits
            end = ((offset + len(secret)) * 8) // 6  # last character holding only secret bits
            middle = encoded[start:end]
            if len(middle) >= MIN_SECRET_LENGTH:
                forms.add(middle)
    return forms


def secret_forms(secret: str) -> set[str]:
    """Every form of a secret that is masked.

    >>> sorted(secret_forms("p@ss word"))[:3]
    ['BwQHNzIHdvcm', 'Bzcy', 'IHdvcmQ']
    """
    if len(secret) < MIN_SECRET_LENGTH:
        return set()
    forms = {secret, quote(secret, safe=""), quote_plus(secret), quote(secret)}
    forms |= _base64_forms(secret.encode())
    return {f for f in forms if len(f) >= MIN_SECRET_LENGTH}


class Masker:
    """Replaces secrets in text. Longer forms are replaced first so no fragment survives."""

    def __init__(self, secrets: Iterable[str] = ()) -> None:
        self._secrets: set[str] = set()
        self._forms: set[str] = set()
        self._pattern: re.Pattern[str] | None = None
        self.add(secrets)

    def add(self, secrets: Iterable[str]) -> None:
        for secret in secrets:
            if secret and secret not in self._secrets:
                self._secrets.add(secret)
                for line in secret.splitlines() or [secret]:
                    self._forms |= secret_forms(line)
        forms = sorted(self._forms, key=len, reverse=True)
        self._pattern = re.compile("|".join(re.escape(f) for f in forms)) if forms else None

    @property
    def secrets(self) -> frozenset[str]:
        return frozenset(self._secrets)

    def __call__(self, text: str) -> str:
        if self._pattern is None or not text:
            return text
        return self._pattern.sub(MASK, text)

    def mask_data(self, value: object) -> object:
        """Mask every string inside nested dicts and lists."""
        if isinstance(value, str):
            return self(value)
        if isinstance(value, dict):
            return {k: self.mask_data(v) for k, v in value.items()}
        if isinstance(value, list | tuple):
            return [self.mask_data(v) for v in value]
        return value
