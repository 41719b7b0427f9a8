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
