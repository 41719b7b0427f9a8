"""The ``flags:`` section of opsbook.yaml.

    flags:
      new-checkout:
        description: The rewritten checkout
        default: false                         # served when off or outside the rollout
        rollout: {percent: 10, stickiness: userId}
        rules:
          - {attribute: email, ends_with: "@example.com", serve: true}
      checkout-button:
        type: string
        default: blue
        variants:
          green: {value: green, weight: 500}
          red:   {value: red, weight: 500}

A boolean flag serves ``true`` when on (and the user is inside the rollout); a string, number or
object flag serves one of its ``variants`` chosen by weight (weights sum to 1000).
"""

from __future__ import annotations

import re
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, field_validator, model_validator

FLAG_KEY = re.compile(r"^[A-Za-z_][A-Za-z0-9_.-]{0,99}$")
TOTAL_WEIGHT = 1000
"""Variant weights add up to this (as Unleash normalises them)."""
FlagType = Literal["boolean", "string", "number", "object"]


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True)


class Variant(_Model):
    """One value a non-boolean flag can serve, with its share of the users (of 1000)."""

    value: Any
    weight: int | None = Field(default=None, ge=0, le=TOTAL_WEIGHT)


class Rollout(_Model):
    """Which share of users the flag is on for, bucketed by one context attribute."""

    percent: int = Field(default=100, ge=0, le=100)
    stickiness: str = "default"
    """The context attribute users are bucketed by; ``default``: userId (or the targeting key),
    then sessionId."""


class Rule(_Model):
    """Serve a fixed value to users whose context attribute matches, before any rollout."""

    attribute: str
    in_: list[str | int | float | bool] | None = Field(default=None, alias="in")
    not_in: list[str | int | float | bool] | None = None
    starts_with: str | None = None
    ends_with: str | None = None
    matches: str | None = None
    serve: Any
    """``true``/``false`` for a boolean flag; a variant's name otherwise."""

    @field_validator("matches")
    @classmethod
    def _regex(cls, value: str | None) -> str | None:
        if value is not None:
            try:
                re.compile(value)
            except re.error as err:
                raise ValueError(f"bad pattern {value!r}: {err}") from None
        return value

    @model_validator(mode="after")
    def _one_test(self) -> Rule:
        tests = [self.in_, self.not_in, self.starts_with, self.ends_with, self.matches]
        if sum(t is not None for t in tests) != 1:
            raise ValueError(
                "a rule needs exactly one of in, not_in, starts_with, ends_with, matches"
            )
        return self


_PYTHON_TYPES: dict[str, tuple[type, ...]] = {
    "boolean": (bool,),
    "string": (str,),
    "number": (int, float),
    "object": (dict,),
}


def _type_of(value: Any) -> FlagType | None:
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, str):
        return "string"
    if isinstance(value, int | float):
        return "number"
    if isinstance(value, dict):
        return "object"
    return None


class Flag(_Model):
    """One feature flag: its type, default, variants, targeting rules and rollout."""

    description: str | None = None
    type: FlagType | None = None
    """Inferred from ``default`` when omitted."""
    default: Any
    enabled: bool = True
    """Whether the flag is on before anyone sets it (``opsbook flag set/kill`` then decide)."""
    variants: dict[str, Variant] = Field(default_factory=dict)
    rules: list[Rule] = Field(default_factory=list)
    rollout: Rollout | None = None

    @model_validator(mode="after")
    def _consistent(self) -> Flag:
        inferred = _type_of(self.default)
        if inferred is None:
            raise ValueError("default must be a boolean, string, number or object")
        if self.type is None:
            self.type = inferred
        elif inferred != self.type and not (self.type == "number" and inferred == "number"):
            raise ValueError(f"default {self.default!r} is not a {self.type}")
        if self.type == "boolean":
            if self.variants:
                raise ValueError("a boolean flag serves true or false; remove variants")
            bad = [r.serve for r in self.rules if not isinstance(r.serve, bool)]
            if bad:
                raise ValueError(f"rules of a boolean flag serve true or false, not {bad[0]!r}")
            return self
        if not self.variants:
            raise ValueError(f"a {self.type} flag needs variants: {{NAME: {{value: ...}}}}")
        wanted = _PYTHON_TYPES[self.type]
        for name, variant in self.variants.items():
            if not isinstance(variant.value, wanted) or (
                self.type == "number" and isinstance(variant.value, bool)
            ):
                raise ValueError(f"variant {name!r}: value {variant.value!r} is not a {self.type}")
        weights = [v.weight for v in self.variants.values()]
        if all(w is None for w in weights):
            share, extra = divmod(TOTAL_WEIGHT, len(weights))
            for i, variant in enumerate(self.variants.values()):
                variant.weight = share + (1 if i < extra else 0)
        elif any(w is None for w in weights) or sum(w or 0 for w in weights) != TOTAL_WEIGHT:
            raise ValueError(
                f"variant weights must all be given and add up to {TOTAL_WEIGHT} "
                f"(they add up to {sum(w or 0 for w in weights)}), or all be left out"
            )
        unknown = [r.serve for r in self.rules if r.serve not in self.variants]
        if unknown:
            raise ValueError(f"a rule serves {unknown[0]!r}, which is not one of the variants")
        return self

    @property
    def percent(self) -> int:
        """The rollout percentage before anyone changes it."""
        return self.rollout.percent if self.rollout else 100

    @property
    def stickiness(self) -> str:
        return self.rollout.stickiness if self.rollout else "default"


def check_key(key: str) -> str:
    """A flag key as ``flags:`` allows it; ValueError with the fix otherwise."""
    if not FLAG_KEY.match(key):
        raise ValueError(
            f"flag key {key[:100]!r} must start with a letter or _ and hold at most 100 letters, "
            "digits, _ . and -"
        )
    return key


FlagKey = Annotated[str, AfterValidator(check_key)]
Flags = dict[FlagKey, Flag]
"""The type of ``flags:``."""
