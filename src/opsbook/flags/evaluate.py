"""Evaluating a flag for one user: the value, the variant and why (OpenFeature's reasons).

Order: off → the default (``DISABLED``); an override for the targeting key, then the first
matching rule (``TARGETING_MATCH``); then the rollout: users inside the percentage get the flag's
value (``true``, or a variant chosen by weight), users outside get the default (``SPLIT`` when
the percentage or the variants split users, ``STATIC`` when everyone gets the same).

A partial rollout by the default stickiness needs a targeting key (or userId/sessionId) in the
context; without one the evaluation fails with ``TARGETING_KEY_MISSING`` instead of serving a
random answer that would change from one request to the next (Unleash's clients pick at random
there). A user without the attribute a rollout is bucketed by (``stickiness: tenantId``) is
outside it, as in Unleash.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from opsbook.flags.bucketing import in_rollout, pick_variant
from opsbook.flags.models import Flag, Rule
from opsbook.flags.state import FlagState


class EvaluationError(Exception):
    """An evaluation that cannot give a value; ``code`` is OpenFeature's error code."""

    def __init__(self, code: str, message: str) -> None:
        self.code = code
        self.message = message
        super().__init__(message)


@dataclass(frozen=True)
class Evaluation:
    """One flag's answer for one context."""

    key: str
    value: Any
    variant: str
    reason: str
    metadata: dict[str, Any] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        return {
            "key": self.key,
            "value": self.value,
            "reason": self.reason,
            "variant": self.variant,
            "metadata": self.metadata,
        }


def stickiness_value(context: Mapping[str, Any], stickiness: str) -> str | None:
    """The context value users are bucketed by, as text; None when the context has none.

    ``default`` is Unleash's: userId, then sessionId; OpenFeature's ``targetingKey`` counts as
    the userId.
    """
    names = ("userId", "targetingKey", "sessionId") if stickiness == "default" else (stickiness,)
    for name in names:
        text = _text(context.get(name))
        if text:
            return text
    return None


def evaluate(key: str, flag: Flag, state: FlagState, context: Mapping[str, Any]) -> Evaluation:
    """The flag's value for ``context``; raises EvaluationError when it cannot say."""
    meta: dict[str, Any] = {"percent": state.percent}
    if not state.enabled:
        return _default(key, flag, "DISABLED", meta)
    target = _text(context.get("targetingKey"))
    if target is not None and target in state.overrides:
        return _serve(key, flag, state.overrides[target], "TARGETING_MATCH", meta)
    for rule in flag.rules:
        if _matches(rule, context.get(rule.attribute)):
            return _serve(key, flag, rule.serve, "TARGETING_MATCH", meta)
    splits = 0 < state.percent < 100 or len(flag.variants) > 1
    reason = "SPLIT" if splits else "STATIC"
    sticky = stickiness_value(context, flag.stickiness)
    if sticky is None and splits and flag.stickiness == "default":
        raise EvaluationError(
            "TARGETING_KEY_MISSING",
            f"flag {key!r} splits users by {_describe(flag.stickiness)}; "
            "send it in the context (targetingKey)",
        )
    if sticky is None:  # bucketed by an attribute this user lacks: outside, as in Unleash
        inside = flag.stickiness == "default" and state.percent >= 100
    else:
        inside = in_rollout(state.percent, key, sticky)
    if not inside:
        return _default(key, flag, reason, meta)
    if flag.type == "boolean":
        return Evaluation(key, True, "on", reason, meta)
    if len(flag.variants) == 1:
        return _serve(key, flag, next(iter(flag.variants)), reason, meta)
    weights = [(name, v.weight or 0) for name, v in flag.variants.items()]
    chosen = pick_variant(weights, key, sticky or "")
    if chosen is None:
        return _default(key, flag, reason, meta)
    return _serve(key, flag, chosen, reason, meta)


def _default(key: str, flag: Flag, reason: str, meta: dict[str, Any]) -> Evaluation:
    variant = ("on" if flag.default else "off") if flag.type == "boolean" else "default"
    return Evaluation(key, flag.default, variant, reason, meta)


def _serve(key: str, flag: Flag, served: Any, reason: str, meta: dict[str, Any]) -> Evaluation:
    if flag.type == "boolean":
        return Evaluation(key, bool(served), "on" if served else "off", reason, meta)
    variant = flag.variants.get(str(served))
    if variant is None:  # an override naming a variant opsbook.yaml no longer has
        return _default(key, flag, "DEFAULT", meta)
    return Evaluation(key, variant.value, str(served), reason, meta)


def _matches(rule: Rule, raw: Any) -> bool:
    value = _text(raw)
    if value is None:
        return rule.not_in is not None
    if rule.in_ is not None:
        return value in {_text(v) for v in rule.in_}
    if rule.not_in is not None:
        return value not in {_text(v) for v in rule.not_in}
    if rule.starts_with is not None:
        return value.startswith(rule.starts_with)
    if rule.ends_with is not None:
        return value.endswith(rule.ends_with)
    return rule.matches is not None and re.search(rule.matches, value) is not None


def _text(value: Any) -> str | None:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str | int | float):
        return str(value)
    return None


def _describe(stickiness: str) -> str:
    return "userId/targetingKey/sessionId" if stickiness == "default" else stickiness
