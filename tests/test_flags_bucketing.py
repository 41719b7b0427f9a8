"""Bucketing matches the Unleash client specification's test vectors (tests/fixtures/unleash,
sources in its README), through the bucketing functions and through opsbook's evaluator, and no
user ever flips back as a rollout's percentage grows."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from opsbook.flags.bucketing import VARIANT_SEED, in_rollout, normalized_hash, pick_variant
from opsbook.flags.evaluate import EvaluationError, evaluate, stickiness_value
from opsbook.flags.models import Flag
from opsbook.flags.state import FlagState

VECTORS = Path(__file__).resolve().parent / "fixtures" / "unleash"


def _load(name: str) -> dict[str, Any]:
    data: dict[str, Any] = json.loads((VECTORS / name).read_text())
    return data


def _features(spec: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {f["name"]: f for f in spec["state"]["features"]}


def _cases(kind: str) -> list[tuple[str, dict[str, Any], dict[str, Any]]]:
    cases = []
    for path in sorted(VECTORS.glob("*.json")):
        spec = json.loads(path.read_text())
        features = _features(spec)
        for test in spec.get(kind, []):
            cases.append(
                (f"{path.stem}: {test['description']}", features[test["toggleName"]], test)
            )
    return cases


TOGGLE_CASES = _cases("tests")
VARIANT_CASES = _cases("variantTests")


def _rollout(strategy: dict[str, Any]) -> tuple[int, str, str]:
    """(percent, stickiness, groupId) of an Unleash rollout strategy."""
    params = strategy["parameters"]
    if strategy["name"] == "gradualRolloutUserId":
        return int(params["percentage"]), "userId", params["groupId"]
    assert strategy["name"] == "flexibleRollout", strategy["name"]
    return int(params["rollout"]), params["stickiness"], params["groupId"]


def test_the_fixtures_hold_vectors() -> None:
    assert len(TOGGLE_CASES) >= 15 and len(VARIANT_CASES) >= 15


@pytest.mark.parametrize(
    ("name", "feature", "test"), TOGGLE_CASES, ids=[c[0] for c in TOGGLE_CASES]
)
def test_rollout_matches_unleash(name: str, feature: dict[str, Any], test: dict[str, Any]) -> None:
    percent, stickiness, group = _rollout(feature["strategies"][0])
    value = stickiness_value(test["context"], stickiness)
    if value is None:  # Unleash: default stickiness falls back to random, others are off
        got = stickiness == "default" and percent == 100
    else:
        got = in_rollout(percent, group, value)
    assert got is test["expectedResult"]


EVALUATED = [c for c in TOGGLE_CASES if _rollout(c[1]["strategies"][0])[2] == c[1]["name"]]


@pytest.mark.parametrize(("name", "feature", "test"), EVALUATED, ids=[c[0] for c in EVALUATED])
def test_opsbook_flags_evaluate_as_unleash(
    name: str, feature: dict[str, Any], test: dict[str, Any]
) -> None:
    """The same features as opsbook.yaml flags (a flexible rollout's groupId is the flag key)."""
    percent, stickiness, _ = _rollout(feature["strategies"][0])
    flag = Flag.model_validate(
        {"default": False, "rollout": {"percent": percent, "stickiness": stickiness}}
    )
    result = evaluate(feature["name"], flag, FlagState.initial(flag), test["context"])
    assert result.value is test["expectedResult"]
    assert result.variant == ("on" if test["expectedResult"] else "off")


@pytest.mark.parametrize(
    ("name", "feature", "test"), VARIANT_CASES, ids=[c[0] for c in VARIANT_CASES]
)
def test_variants_match_unleash(name: str, feature: dict[str, Any], test: dict[str, Any]) -> None:
    strategy = feature["strategies"][0] if feature["strategies"] else {}
    if strategy.get("variants"):  # strategy variants: the strategy's group, the variant seed
        variants, group, seed = (
            strategy["variants"],
            strategy["parameters"]["groupId"],
            VARIANT_SEED,
        )
    else:  # feature-level variants: the feature's name, seed 0
        variants, group, seed = feature["variants"], feature["name"], 0
    context = test["context"]
    chosen = None
    for variant in variants:  # Unleash: an override wins before any hashing
        for override in variant.get("overrides", []):
            if context.get(override["contextName"]) in override["values"]:
                chosen = variant["name"]
    if chosen is None:
        stickiness = variants[0].get("stickiness", "default")
        value = stickiness_value(context, stickiness)
        assert value is not None
        chosen = pick_variant([(v["name"], v["weight"]) for v in variants], group, value, seed)
    assert chosen == test["expectedResult"]["name"]


def test_known_hash_values() -> None:
    """Two buckets worked out by hand from the 03 vectors: 122 is in the first half, 155 not."""
    assert normalized_hash("122", "AB12A") <= 50 < normalized_hash("155", "AB12A")
    assert all(1 <= normalized_hash(str(i), "g") <= 100 for i in range(1000))


@settings(max_examples=300, deadline=None)
@given(
    user=st.text(min_size=1, max_size=40),
    key=st.from_regex(r"[a-z][a-z0-9-]{0,20}", fullmatch=True),
    percents=st.lists(st.integers(min_value=0, max_value=100), min_size=2, max_size=8),
)
def test_no_user_flips_back_as_the_percentage_grows(
    user: str, key: str, percents: list[int]
) -> None:
    flag = Flag.model_validate({"default": False, "rollout": {"percent": 0}})
    seen_on = False
    for percent in sorted(percents):
        result = evaluate(key, flag, FlagState(True, percent), {"targetingKey": user})
        if seen_on:
            assert result.value is True, f"{user!r} flipped back at {percent}%"
        seen_on = result.value is True
        assert result.value is in_rollout(percent, key, user)


@settings(max_examples=200, deadline=None)
@given(users=st.lists(st.text(min_size=1, max_size=12), min_size=1, max_size=50, unique=True))
def test_variant_of_a_user_is_stable_across_percentages(users: list[str]) -> None:
    flag = Flag.model_validate(
        {
            "type": "string",
            "default": "blue",
            "variants": {
                "green": {"value": "green", "weight": 300},
                "red": {"value": "red", "weight": 700},
            },
        }
    )
    for user in users:
        low = evaluate("btn", flag, FlagState(True, 30), {"targetingKey": user})
        high = evaluate("btn", flag, FlagState(True, 90), {"targetingKey": user})
        if low.variant != "default":
            assert high.variant == low.variant


def test_roughly_the_percentage_of_users_is_in() -> None:
    inside = sum(in_rollout(10, "new-checkout", f"user-{i}") for i in range(10000))
    assert 850 < inside < 1150


def _boolean(**extra: Any) -> Flag:
    return Flag.model_validate({"default": False, **extra})


def test_evaluation_order_and_reasons() -> None:
    flag = _boolean(
        rollout={"percent": 0},
        rules=[{"attribute": "email", "ends_with": "@example.com", "serve": True}],
    )
    state = FlagState(True, 0, {"vip": True})
    assert evaluate("f", flag, state, {"targetingKey": "vip"}).reason == "TARGETING_MATCH"
    ruled = evaluate("f", flag, state, {"targetingKey": "u", "email": "a@example.com"})
    assert (ruled.value, ruled.reason) == (True, "TARGETING_MATCH")
    out = evaluate("f", flag, state, {"targetingKey": "u", "email": "a@other.org"})
    assert (out.value, out.variant, out.reason) == (False, "off", "STATIC")
    off = evaluate("f", flag, FlagState(False, 100, {"vip": True}), {"targetingKey": "vip"})
    assert (off.value, off.reason) == (False, "DISABLED")


def test_partial_rollout_without_a_targeting_key_is_an_error_not_a_coin_toss() -> None:
    flag = _boolean(rollout={"percent": 50})
    with pytest.raises(EvaluationError) as info:
        evaluate("f", flag, FlagState.initial(flag), {"country": "RW"})
    assert info.value.code == "TARGETING_KEY_MISSING"
    assert evaluate("f", _boolean(), FlagState(True, 100), {}).value is True


@pytest.mark.parametrize(
    ("config", "message"),
    [
        ({"default": None}, "default must be a boolean, string, number or object"),
        ({"default": True, "variants": {"a": {"value": 1}}}, "remove variants"),
        ({"type": "string", "default": "x"}, "needs variants"),
        ({"type": "number", "default": 1, "variants": {"a": {"value": "x"}}}, "is not a number"),
        (
            {
                "default": "x",
                "variants": {
                    "a": {"value": "a", "weight": 600},
                    "b": {"value": "b", "weight": 600},
                },
            },
            "add up to 1000",
        ),
        (
            {
                "default": "x",
                "variants": {"a": {"value": "a"}},
                "rules": [{"attribute": "c", "in": ["x"], "serve": "zz"}],
            },
            "not one of the variants",
        ),
        ({"default": False, "rules": [{"attribute": "c", "serve": True}]}, "exactly one of"),
        (
            {"default": False, "rules": [{"attribute": "c", "matches": "(", "serve": True}]},
            "bad pattern",
        ),
        ({"default": False, "rollout": {"percent": 101}}, "less than or equal to 100"),
    ],
)
def test_hostile_flag_definitions_are_refused(config: dict[str, Any], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        Flag.model_validate(config)


def test_variants_without_weights_share_1000() -> None:
    flag = Flag.model_validate(
        {"default": "x", "variants": {k: {"value": k} for k in ("a", "b", "c")}}
    )
    assert [v.weight for v in flag.variants.values()] == [334, 333, 333]
