"""Label sets as Prometheus and Alertmanager identify and order them.

An alert instance is its label set. :func:`fingerprint` is Prometheus' ``LabelSet.Fingerprint``
(64-bit FNV-1a over the sorted names and values, each followed by the byte 0xff), written as
Alertmanager writes it (16 hex digits): the fingerprint the dashboard, ``--json`` and a webhook
show for an alert is the one Alertmanager's UI, ``amtool`` and its own webhooks show for it.
:func:`alertmanager_order` sorts alerts as Alertmanager sorts a notification's alerts.
"""

from __future__ import annotations

import functools
import hashlib
import json
from collections.abc import Callable, Iterable, Mapping
from typing import TypeVar

_OFFSET = 14695981039346656037
_PRIME = 1099511628211
_MASK = (1 << 64) - 1
_SEPARATOR = b"\xff"

T = TypeVar("T")


def fingerprint(labels: Mapping[str, str]) -> str:
    """Prometheus' fingerprint of a label set, as 16 hex digits."""
    h = _OFFSET
    for name in sorted(labels):
        for byte in name.encode() + _SEPARATOR + labels[name].encode() + _SEPARATOR:
            h = ((h ^ byte) * _PRIME) & _MASK
    return f"{h:016x}"


def label_digest(labels: Mapping[str, str]) -> str:
    """A digest of a label set that never changes between opsbook versions (what a notification
    group's stored digest is made of, so an upgrade does not make it look changed)."""
    text = json.dumps(dict(sorted(labels.items())), separators=(",", ":"))
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def _first_difference(
    a: Mapping[str, str], b: Mapping[str, str], names: Iterable[str], missing_first: bool
) -> bool | None:
    """Whether ``a`` sorts before ``b`` at the first of ``names`` where they differ (a missing
    label first or last, then values as bytes); None if they agree on all of them."""
    for name in names:
        if name not in a and name not in b:
            continue
        if name not in a or name not in b:
            return (name not in a) == missing_first
        if a[name] != b[name]:
            return a[name].encode() < b[name].encode()
    return None


def _less(a: Mapping[str, str], b: Mapping[str, str]) -> bool:
    """Alertmanager's ``AlertSlice.Less``: by ``job``, then ``instance`` (an alert without one
    after those with it), then Go's ``LabelSet.Before`` (fewer labels first, then the sorted
    names and values, a missing name first)."""
    by_key = _first_difference(a, b, ("job", "instance"), missing_first=False)
    if by_key is not None:
        return by_key
    if len(a) != len(b):
        return len(a) < len(b)
    return bool(_first_difference(a, b, sorted({*a, *b}), missing_first=True))


def alertmanager_order(items: Iterable[T], labels: Callable[[T], Mapping[str, str]]) -> list[T]:
    """``items`` in the order Alertmanager lists them in a notification (a stable sort)."""

    def compare(x: T, y: T) -> int:
        lx, ly = labels(x), labels(y)
        return -1 if _less(lx, ly) else 1 if _less(ly, lx) else 0

    return sorted(items, key=functools.cmp_to_key(compare))
