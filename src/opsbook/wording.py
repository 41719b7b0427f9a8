"""Counts in English: ``1 check``, ``2 checks``, never ``2 check(s)``."""

from __future__ import annotations


def noun(count: int, word: str, plural: str | None = None) -> str:
    """``word`` for one, else its plural (``word`` + s unless ``plural`` says otherwise)."""
    return word if count == 1 else plural or word + "s"


def counted(count: int, word: str, plural: str | None = None) -> str:
    """``1 step``, ``2 steps``; ``plural`` where adding an s is wrong (``1 SLO``, ``2 SLOs``)."""
    return f"{count} {noun(count, word, plural)}"
