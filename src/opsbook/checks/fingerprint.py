"""Keyed fingerprints: a way to tell two secret values apart without showing either.

A fingerprint is the first 12 hex digits of HMAC-SHA256(key, value). The key is 32 random
bytes kept in ``.opsbook/fingerprint.key`` beside opsbook.yaml, created on first use with mode
0600 and never committed (``.opsbook/`` holds local state). A plain hash would not do: anyone
holding a fingerprint could test guesses of a low-entropy secret (a short password) against it
offline; without the key they cannot.
"""

from __future__ import annotations

import hashlib
import hmac
import os
import secrets
from pathlib import Path

KEY_FILE = Path(".opsbook") / "fingerprint.key"
LENGTH = 12


class Fingerprinter:
    """Fingerprints values with one project's key.

    >>> fp = Fingerprinter(b"k" * 32)
    >>> fp("hunter2") == fp("hunter2") != fp("hunter3")
    True
    >>> len(fp("hunter2"))
    12
    """

    def __init__(self, key: bytes) -> None:
        self._key = key

    def digest(self, value: str) -> bytes:
        """The full HMAC, for comparing values (env-diff)."""
        return hmac.new(self._key, value.encode(), hashlib.sha256).digest()

    def __call__(self, value: str) -> str:
        return self.digest(value).hex()[:LENGTH]


def project_key(root: Path) -> bytes:
    """The project's fingerprint key, created on first use."""
    path = root / KEY_FILE
    if path.is_file():
        key = path.read_bytes()
        if len(key) >= 16:
            return key
        path.unlink()  # an empty or truncated key (an interrupted first write) is replaced
    path.parent.mkdir(parents=True, exist_ok=True)
    key = secrets.token_bytes(32)
    # O_EXCL: two checks starting at once must not each write a different key.
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return path.read_bytes()
    with os.fdopen(fd, "wb") as handle:
        handle.write(key)
    return key


def for_project(root: Path) -> Fingerprinter:
    """A Fingerprinter with the key of the project at ``root``."""
    return Fingerprinter(project_key(root))
