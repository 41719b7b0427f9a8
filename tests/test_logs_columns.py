"""Column types of JSON log lines, as the logs source gives them to DuckDB.

Every key of the window counts (a rare event's fields too); a field seen with two kinds of
value gets the type that holds both, whatever order the lines come in.
"""

from __future__ import annotations

import itertools
import json

from opsbook.sources.logs import _columns

LINES = [
    {"ts": "2026-11-30T09:00:00Z", "ms": 12, "route": "/", "ok": True},
    {"ts": "2026-11-30T09:00:01Z", "ms": 12.5, "route": None, "tags": ["a"]},
    {"ts": "2026-11-30T09:00:02Z", "code": 500, 'say "hi"': "x", "ctx": {"id": 1}},
    {"ts": "2026-11-30T09:00:03Z", "code": "E42", "é": 1e3, "back\\slash": False},
]


def _data(lines: list[dict[str, object]], *, ascii_only: bool = True) -> bytes:
    return "".join(json.dumps(line, ensure_ascii=ascii_only) + "\n" for line in lines).encode()


def test_every_key_gets_the_type_that_holds_all_its_values() -> None:
    types = _columns(_data(LINES), "ts")
    assert types == {
        "ts": "TIMESTAMPTZ",
        "ms": "DOUBLE",  # 12 and 12.5
        "route": "VARCHAR",  # null is no evidence
        "ok": "BOOLEAN",
        "tags": "JSON",
        "code": "VARCHAR",  # 500 and "E42"
        'say \\"hi\\"': "VARCHAR",  # the key as written in the line, escapes kept
        "\\u00e9": "DOUBLE",
        "ctx": "JSON",
        "id": "BIGINT",  # a nested key is seen too; DuckDB ignores an unknown column
        "back\\\\slash": "BOOLEAN",
    }


def test_the_order_of_the_lines_does_not_change_the_types() -> None:
    first = _columns(_data(LINES, ascii_only=False), "ts")
    for order in itertools.permutations(LINES):
        assert _columns(_data(list(order), ascii_only=False), "ts") == first
    assert list(first) == sorted(first)  # a stable column order


def test_unix_seconds_and_broken_lines() -> None:
    types = _columns(b'{"ts": 1764493200.5, "n": 1}\n{"ts": 1764493201\n"\\"": \n{{{:"\n', "ts")
    assert types["ts"] == "DOUBLE" and types["n"] == "BIGINT"  # the garbage adds at most a column
    assert _columns(b"", "ts") == {}
