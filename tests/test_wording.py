"""Counts in messages are English: one check, two checks, never "check(s)"."""

from __future__ import annotations

import pytest

from opsbook.wording import counted, noun


@pytest.mark.parametrize(
    ("count", "word", "plural", "expected"),
    [
        (0, "check", None, "0 checks"),
        (1, "check", None, "1 check"),
        (2, "dangerous statement", None, "2 dangerous statements"),
        (1, "SLO", "SLOs", "1 SLO"),
        (3, "entry", "entries", "3 entries"),
    ],
)
def test_counted(count: int, word: str, plural: str | None, expected: str) -> None:
    assert counted(count, word, plural) == expected


def test_noun_is_the_word_without_its_count() -> None:
    assert [noun(n, "param") for n in (1, 2)] == ["param", "params"]
