"""Log lines that are not clean still count: a 500 whose message holds a Latin-1 byte, and
lines that are not JSON or have no time, between the window's lines. `monitor eval` counted
neither of two such 500s: DuckDB skipped the line that is not UTF-8, and the window's binary
search took a line without a readable time for the window's end and cut the lines after it."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from conftest import run_cli
from test_logs_tail import SPEC  # error_rate over 5m, requests over 1m


def _line(second: int, status: int, message: bytes = b"ok") -> bytes:
    return b'{"ts":"2026-11-30T09:%02d:%02dZ","status":%d,"ms":5,"route":"/","msg":"%s"}\n' % (
        second // 60,
        second % 60,
        status,
        message,
    )


@pytest.mark.parametrize("junk", [b"\xff\xfe not json\n", b'{"status":500}\n', b"\n"])
def test_every_500_in_the_window_counts_whatever_lies_between(tmp_path: Path, junk: bytes) -> None:
    lines = [_line(s, 200) for s in range(0, 30)]  # 09:00:00 .. 09:00:29
    lines += [_line(30, 500, b"caf\xe9"), junk, _line(31, 500, b"\xc3("), junk]
    lines += [_line(s, 200) for s in range(32, 600, 7)]  # on past the window's end
    lines += [junk * 3, _line(700, 500)]  # after the window: not counted
    (tmp_path / "logs").mkdir()
    (tmp_path / "logs" / "app.jsonl").write_bytes(b"".join(lines))
    (tmp_path / "opsbook.yaml").write_text(SPEC)
    now = "2026-11-30T09:05:00Z"  # the window is [09:00:00, 09:05:00)
    done = run_cli("monitor", "eval", "--now", now, "--json", cwd=tmp_path)
    assert done.returncode == 0, done.stdout + done.stderr
    metrics = json.loads(done.stdout)["metrics"]
    values = {name: m["samples"][0]["value"] for name, m in metrics.items()}
    in_window = 30 + 2 + len(range(32, 300, 7))
    last_minute = len(range(242, 300, 7))  # [09:04:00, 09:05:00)
    assert values == {"error_rate": 2 / in_window, "requests": last_minute, "p95_ms": 5}


def test_a_replay_counts_the_500s_that_are_not_utf8(tmp_path: Path) -> None:
    """A replay lets DuckDB read the files itself, and DuckDB reads a line that is not UTF-8 as
    nulls: the only two 500s of this log (Latin-1 and cut-off UTF-8 in their messages) must
    still fire the alert, from the first instant whose window holds them."""
    lines = [_line(s, 200) for s in range(0, 30)]
    lines += [_line(30, 500, b"caf\xe9"), b"\xff\xfe not json\n", _line(31, 500, b"\xc3(")]
    lines += [_line(s, 200) for s in range(32, 900, 7)]
    (tmp_path / "logs").mkdir()
    (tmp_path / "logs" / "app.jsonl").write_bytes(b"".join(lines))
    (tmp_path / "opsbook.yaml").write_text(SPEC + "alerts:\n  errors: {when: error_rate > 0}\n")
    done = run_cli(
        "monitor", "replay", "--from", "2026-11-30T09:00:00Z", "--to", "2026-11-30T09:10:00Z",
        "--every", "1m", "--json", cwd=tmp_path,
    )  # fmt: skip
    assert done.returncode == 0, done.stdout + done.stderr
    shown = [(t["event"], t["at"], t["value"]) for t in json.loads(done.stdout)["transitions"]]
    in_first_window = 30 + 2 + len(range(32, 60, 7))  # [08:56, 09:01)
    assert shown == [
        ("alert.firing", "2026-11-30T09:01:00Z", 2 / in_first_window),
        ("alert.resolved", "2026-11-30T09:06:00Z", 0.0),
    ]


def test_the_lines_that_are_not_utf8_are_found_across_chunks(tmp_path: Path) -> None:
    """The replay's search for such lines reads 4 MB at a time: a line cut by a chunk's end, a
    character cut in two, a gzip file and a last line without a newline are all found."""
    from opsbook.sources.logs import _not_utf8_lines

    chunk = 1 << 22
    head = b"x" * (chunk - 3) + b"\n"  # the next line starts 2 bytes before the chunk's end
    across = b'{"m":"\xc3\xa9 caf\xe9"}\n'  # a whole character, then a Latin-1 byte
    ok = "é ok\n".encode()
    plain = tmp_path / "a.jsonl"
    plain.write_bytes(head + across + ok * 3 + b"\xff last")
    assert _not_utf8_lines(plain) == across + b"\xff last\n"
    import gzip

    packed = tmp_path / "b.jsonl.gz"
    packed.write_bytes(gzip.compress(head + ok + across))
    assert _not_utf8_lines(packed) == across
    clean = tmp_path / "c.jsonl"
    clean.write_bytes(head * 2 + ok)
    assert _not_utf8_lines(clean) == b""
