"""The fast libyaml reading of opsbook.yaml reads exactly what ruamel reads, or declines.

Every tricky plain scalar (YAML 1.1 booleans, octal, dates, sexagesimal, special floats, merge
keys, tags) in several positions: the fast reader either gives the same plain data as ruamel's
round-trip loader (what opsbook used alone before) or raises Unsure, never something else.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
from ruamel.yaml import YAML

from conftest import FIXTURES, SEEDS
from opsbook.spec import fastyaml
from opsbook.spec.loader import _plain, validate_text

ROOT = Path(__file__).resolve().parent.parent

TRICKY = (
    "yes no on off y n Y 010 0o10 0x1F 1_000 1e3 1.5e3 .5 -.5 +.5 +1 -0 0 00 1. 1.10 08 09"
    " 2024-01-01 2024-1-1 2001-12-14t21:59:43.10-05:00 1:30 12:30:45 ~ null NULL Null nuLL"
    " true True TRUE tRue .inf -.inf .NaN - -- -1- 1.2.3 1.0.0-rc1 = << + . 0b101 1e 12e3"
    " 0.0 -1.0e-3 1__2 1_ _1 v1 @x `x %x &x *x !x !!str !!int |x >x 'x' \"x\" 'true' '010'"
    " 1d 30d 7D 10dd 1a 1f 0d 0xd 0bd 0od 1e 1E 2ed 1de 1d2 01d -1d +1d 1_0d 1.5d 1:2d"
)
TOKENS = [*TRICKY.split(" "), "a b", "a #b", "x y z", "1 2", "echo hi ! there", "[ ! -f x ]"]
POSITIONS = (
    "k: {t}\n",
    "{t}: v\n",
    "k: [{t}]\n",
    "k:\n  - {t}\n",
    "k: {{a: {t}}}\n",
    "k: x {t}\n",
    "k: {t} x\n",
    "%YAML 1.1\n---\nk: {t}\n",
    "a: &x {{k: {t}}}\nb: *x\n",
    "k: {t}\nk: again\n",
)


def _same(fast: Any, slow: Any) -> bool:
    if isinstance(fast, dict):
        return (
            isinstance(slow, dict)
            and list(fast) == list(slow)
            and all(_same(fast[k], slow[k]) for k in fast)
        )
    if isinstance(fast, list):
        return isinstance(slow, list) and len(fast) == len(slow) and all(map(_same, fast, slow))
    # ruamel's scalars are subclasses (ScalarFloat, LiteralScalarString...); bool is not an int
    same_type = type(fast) is type(slow) or (
        isinstance(slow, type(fast)) and not isinstance(slow, bool)
    )
    return same_type and fast == slow and str(fast) == str(slow)


def _ruamel(text: str) -> Any:
    return _plain(YAML(typ="rt").load(text))


def _agrees(text: str) -> bool:
    """True when the fast reader read it (and agrees); False when it declined."""
    try:
        slow = _ruamel(text)
    except Exception:
        with pytest.raises(fastyaml.Unsure):
            fastyaml.load(text)
        return False
    try:
        fast = fastyaml.load(text)
    except fastyaml.Unsure:
        return False
    assert _same(fast, slow), f"{text!r}: fast {fast!r}, ruamel {slow!r}"
    return True


@pytest.mark.parametrize("token", TOKENS)
def test_tricky_scalars_read_as_ruamel_reads_them_or_not_at_all(token: str) -> None:
    for position in POSITIONS:
        _agrees(position.format(t=token))


def test_plain_forms_are_read_fast() -> None:
    text = "a: 1\nb: -2.5\nc: true\nd: ~\ne: 'x'\nf: |\n  line\ng: [x, 2]\nh: on\ni: 1.10\n"
    assert _agrees(text)
    assert fastyaml.load(text)["h"] == "on"  # YAML 1.2, as ruamel: not a boolean


def _yaml_texts() -> list[tuple[str, str]]:
    texts = []
    files = [*FIXTURES.rglob("*.yaml"), *(ROOT / "examples").rglob("*.yaml")]
    for path in files:
        texts.append((str(path.relative_to(ROOT)), path.read_text(encoding="utf-8")))
    for md in [*(ROOT / "docs").glob("*.md"), *(SEEDS.rglob("*.md") if SEEDS.is_dir() else [])]:
        blocks = re.findall(r"```ya?ml\n(.*?)```", md.read_text(encoding="utf-8"), re.S)
        texts += [(f"{md.name}#{i}", block) for i, block in enumerate(blocks)]
    return texts


def test_every_yaml_of_the_project_reads_the_same() -> None:
    texts = _yaml_texts()
    assert len(texts) > 10
    fast = sum(_agrees(text) for _, text in texts)
    assert fast > len(texts) // 2  # the fast path is the common path, not a rare one


def test_problems_read_fast_still_name_their_line() -> None:
    text = (
        "version: 1\nproject: p\nrunbooks:\n  r:\n    steps:\n      - {id: a, run: x, tmeout: 5}\n"
    )
    fastyaml.load(text)  # read fast: no Unsure
    with pytest.raises(Exception) as info:
        validate_text(text, "opsbook.yaml")
    problems = info.value.problems  # type: ignore[attr-defined]
    assert [(p.line, "tmeout" in p.message) for p in problems] == [(6, True)]
