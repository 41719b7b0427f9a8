"""Keeping secret values out of everything opsbook prints or stores.

A :class:`Masker` replaces each secret, and its JSON-escaped, URL-encoded (either hex case) and
base64 forms (at every byte alignment, so a secret inside a larger base64 payload is caught too),
by ``***``. :class:`SplitGuard` catches a secret printed across two lines.
"""

from __future__ import annotations

import base64
import json
import re
from collections.abc import Callable, Iterable
from urllib.parse import quote, quote_plus

MASK = "***"
MIN_SECRET_LENGTH = 4
"""Shorter forms are not masked: masking "1" or "yes" would shred every line of output."""
MIN_DECLARED_SECRET = 6
"""A secret shorter than this is refused (validate, plan, run) rather than silently unmasked."""
_PERCENT = re.compile(r"%[0-9A-F]{2}")


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

    >>> forms = secret_forms('p@ss"wörd')
    >>> [f in forms for f in ('p@ss\\"w\\u00f6rd', 'p%40ss%22w%C3%B6rd', 'p%40ss%22w%c3%b6rd')]
    [True, True, True]
    """
    if len(secret) < MIN_SECRET_LENGTH:
        return set()
    forms = {secret, quote(secret, safe=""), quote_plus(secret), quote(secret)}
    forms |= {_PERCENT.sub(lambda m: m.group(0).lower(), f) for f in forms}
    forms |= {json.dumps(secret)[1:-1], json.dumps(secret, ensure_ascii=False)[1:-1]}
    forms |= {json.dumps(json.dumps(secret))[3:-3]}  # JSON inside JSON (an event's message)
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


class SplitGuard:
    """Passes lines on, masking a secret that starts at the end of one line and ends the next.

    A line whose end could be the start of a secret is held until the next line shows whether
    it is; :meth:`flush` passes on a line still held.

    >>> out = []
    >>> guard = SplitGuard(out.append, ["hunter2hunter2"])
    >>> for line in ["pass: hunter2", "hunter2 ok", "done"]: guard(line)
    >>> guard.flush(); out
    ['pass: ***', '*** ok', 'done']
    """

    def __init__(self, log: Callable[[str], None], secrets: Iterable[str]) -> None:
        self.log = log
        self.secrets = [s for s in secrets if len(s) >= MIN_SECRET_LENGTH and "\n" not in s]
        self.held: str | None = None

    def __call__(self, line: str) -> None:
        if self.held is not None:
            line = self._join(line)
        if any(self._starts_at_end(line, s) for s in self.secrets):
            self.held = line
        else:
            self.log(line)

    def flush(self) -> None:
        if self.held is not None:
            self.log(self.held)
            self.held = None

    def _join(self, line: str) -> str:
        """Log the held line; a secret spanning it and ``line`` is masked on both sides."""
        held, self.held = self.held or "", None
        joined = held + line
        cut_held, cut_line = len(held), 0
        for secret in self.secrets:
            start = joined.find(secret, max(0, len(held) - len(secret) + 1))
            if 0 <= start < len(held) < start + len(secret):
                cut_held = min(cut_held, start)
                cut_line = max(cut_line, start + len(secret) - len(held))
        if cut_held < len(held):
            held, line = held[:cut_held] + MASK, MASK + line[cut_line:]
        self.log(held)
        return line

    @staticmethod
    def _starts_at_end(line: str, secret: str) -> bool:
        return any(line.endswith(secret[:k]) for k in range(1, len(secret)))
