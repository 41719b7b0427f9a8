"""Percentage bucketing identical to Unleash's clients, so a flag moved between opsbook and
Unleash puts every user in the same bucket.

A stickiness value (a user id, a session id) lands in bucket 1..100 of a group (the flag's key):
murmur3 x86_32 of ``"{group}:{value}"`` with seed 0, unsigned, ``% 100 + 1``. A user is in a
rollout of ``percent`` when ``percent > 0`` and the bucket is at most ``percent``; the bucket
never changes, so growing the percentage only ever adds users.

Variants are Unleash's strategy variants: the same hash with seed 86028157 over the total weight
(1000 in opsbook.yaml), taking the first variant whose running sum of weights reaches the target.
(Unleash's older feature-level variants hash with seed 0; ``seed=0`` reproduces them.)
"""

from __future__ import annotations

from collections.abc import Sequence

import mmh3

VARIANT_SEED = 86028157
"""Unleash's seed for variant selection (a different seed decorrelates variants and rollout)."""


def normalized_hash(value: str, group: str, normalizer: int = 100, seed: int = 0) -> int:
    """The Unleash bucket of ``value`` in ``group``: 1..normalizer.

    >>> normalized_hash("122", "AB12A") <= 50 < normalized_hash("155", "AB12A")
    True
    """
    return mmh3.hash(f"{group}:{value}", seed, signed=False) % normalizer + 1


def in_rollout(percent: int, group: str, value: str) -> bool:
    """Whether ``value`` is inside a rollout of ``percent`` (0..100) of ``group``."""
    return percent > 0 and normalized_hash(value, group) <= percent


def pick_variant(
    weights: Sequence[tuple[str, int]], group: str, value: str, seed: int = VARIANT_SEED
) -> str | None:
    """The variant ``value`` gets among ``(name, weight)`` pairs, in their order; None if no
    variant has weight."""
    total = sum(weight for _, weight in weights)
    if total <= 0:
        return None
    target = normalized_hash(value, group, total, seed)
    running = 0
    for name, weight in weights:
        running += weight
        if target <= running:
            return name
    return None  # unreachable: target <= total
