"""`opsbook watch` tails its log files: each evaluation reads only the bytes appended since the
last, and every metric equals what a full evaluation at the same instant reads, through appends,
a half-written line, a rotation (rename and a new file), a copy-truncate, a new file matching the
glob and a .gz file. Lines come from a seeded generator; times are given, never slept."""

from __future__ import annotations

import gzip
import json
import os
import random
from datetime import UTC, datetime, timedelta
from pathlib import Path

from opsbook.monitor.evaluate import read_readings
from opsbook.monitor.watch import tailed_readings, tailing_context
from opsbook.sources.base import SourceContext
from opsbook.sources.logtail import CHECK_BYTES, TAILING, LogTail
from opsbook.spec.loader import LoadedSpec, load_spec

SPEC = """\
version: 1
project: shop
sources:
  app_logs: {logs: "logs/app*"}
metrics:
  error_rate: {from: app_logs, over: 5m, value: "avg(CASE WHEN status >= 500 THEN 1 ELSE 0 END)"}
  requests: {from: app_logs, over: 1m, value: "count(*)"}
  p95_ms: {from: app_logs, over: 10m, value: "quantile_cont(ms, 0.95)", by: [route]}
"""

T0 = datetime(2026, 12, 1, 9, tzinfo=UTC)


class Writer:
    """Request lines every 2 seconds of log time, 3% of them 5xx (seeded)."""

    def __init__(self) -> None:
        self.rng = random.Random(12)
        self.t = T0

    def lines(self, minutes: float) -> bytes:
        out = []
        end = self.t + timedelta(minutes=minutes)
        while self.t < end:
            line = {
                "ts": self.t.isoformat().replace("+00:00", "Z"),
                "route": self.rng.choice(["/", "/cart", "/pay"]),
                "status": 503 if self.rng.random() < 0.03 else 200,
                "ms": round(self.rng.lognormvariate(4, 0.6), 1),
            }
            out.append(json.dumps(line).encode() + b"\n")
            self.t += timedelta(seconds=2)
        return b"".join(out)


def _project(tmp_path: Path) -> LoadedSpec:
    (tmp_path / "opsbook.yaml").write_text(SPEC)
    (tmp_path / "logs").mkdir()
    return load_spec(tmp_path / "opsbook.yaml")


def _append(path: Path, data: bytes) -> None:
    with path.open("ab") as fh:
        fh.write(data)


def _values(readings: dict[str, object]) -> dict[str, object]:
    out: dict[str, object] = {}
    for name, reading in readings.items():
        assert reading.error is None, reading.error  # type: ignore[attr-defined]
        samples = reading.samples  # type: ignore[attr-defined]
        out[name] = sorted((tuple(sorted(s.labels.items())), s.value) for s in samples)
    return out


def _tail(ctx: SourceContext) -> LogTail:
    (tail,) = [v for k, v in ctx.cache.items() if isinstance(k, tuple) and k[0] == TAILING]
    assert isinstance(tail, LogTail)
    return tail


def _same(loaded: LoadedSpec, ctx: SourceContext, now: datetime) -> dict[str, object]:
    tailed = _values(tailed_readings(ctx, now))
    full = _values(read_readings(loaded, now))
    assert tailed == full, now
    return tailed


def test_tailing_equals_full_evaluation_through_appends_rotation_and_truncation(
    tmp_path: Path,
) -> None:
    loaded = _project(tmp_path)
    log = tmp_path / "logs" / "app.jsonl"
    writer = Writer()
    log.write_bytes(writer.lines(30))
    ctx = tailing_context(loaded)
    first = _same(loaded, ctx, writer.t)
    assert first["requests"] == [((), 30.0)]  # 1 minute of lines, one every 2 s
    size = log.stat().st_size
    assert _tail(ctx).bytes_read < size / 2  # the window's 10 minutes of 30, not the file

    for _ in range(5):  # appends: each tick reads only what was added
        before = _tail(ctx).bytes_read
        added = writer.lines(0.5)
        _append(log, added)
        _same(loaded, ctx, writer.t)
        # what was added, and the bytes before the offset that show it was not truncated
        assert _tail(ctx).bytes_read - before == len(added) + CHECK_BYTES

    whole = writer.lines(0.5)  # a line half written waits for the next tick
    _append(log, whole[:-20])
    _same(loaded, ctx, writer.t - timedelta(seconds=4))
    _append(log, whole[-20:])
    _same(loaded, ctx, writer.t)

    os.rename(log, tmp_path / "logs" / "app.jsonl.1")  # rotation by rename, then a new file
    before = _tail(ctx).bytes_read
    fresh = writer.lines(1)
    log.write_bytes(fresh)
    _same(loaded, ctx, writer.t)
    # the new file whole; the renamed one kept its offset: only its check bytes
    assert _tail(ctx).bytes_read - before == len(fresh) + CHECK_BYTES

    with log.open("r+b") as fh:  # copy-truncate: the file starts again from nothing
        fh.truncate(0)
    _append(log, writer.lines(2))
    _same(loaded, ctx, writer.t)

    with gzip.open(tmp_path / "logs" / "app.jsonl.2.gz", "wb") as gz:  # a compressed file
        gz.write(writer.lines(1))
    _append(log, writer.lines(1))
    _same(loaded, ctx, writer.t)
    before = _tail(ctx).bytes_read
    _append(log, b"")
    _same(loaded, ctx, writer.t)
    # an unchanged .gz file is not read again: only the two plain files' check bytes
    assert _tail(ctx).bytes_read == before + 2 * CHECK_BYTES


def test_tailing_reads_fewer_bytes_than_full_evaluations(tmp_path: Path) -> None:
    """Twenty ticks of 30 s appends: the tail reads each byte once; a full evaluation per tick
    reads the whole window (10 minutes) every time."""
    loaded = _project(tmp_path)
    log = tmp_path / "logs" / "app.jsonl"
    writer = Writer()
    log.write_bytes(writer.lines(10))
    ctx = tailing_context(loaded)
    full_bytes = 0
    for _ in range(20):
        _append(log, writer.lines(0.5))
        _same(loaded, ctx, writer.t)
        full_bytes += sum(
            len(line) for line in log.read_bytes().splitlines(keepends=True)[-300:]
        )  # the 10-minute window is the last 300 lines
    assert _tail(ctx).bytes_read < full_bytes / 5


def test_a_context_without_tailing_reads_the_window_each_time(tmp_path: Path) -> None:
    """monitor eval and replay do not tail: their context has no tail in its cache."""
    loaded = _project(tmp_path)
    (tmp_path / "logs" / "app.jsonl").write_bytes(Writer().lines(5))
    from opsbook.monitor.metrics import read_series, source_context

    ctx = source_context(loaded)
    read_series(ctx, ["requests"], [T0 + timedelta(minutes=5)])
    assert not [k for k in ctx.cache if isinstance(k, tuple) and k[0] == TAILING]


def test_watch_wakes_early_when_a_log_file_changes(tmp_path: Path) -> None:
    """With an 8 s interval, a line appended after the first tick starts the next tick once
    half the interval (4 s) has passed, not after the whole interval."""
    import threading

    from tests.waiting import wait_until

    from opsbook.monitor.watch import watch
    from opsbook.store import open_store

    (tmp_path / "opsbook.yaml").write_text(
        SPEC + "alerts:\n  errors: {when: error_rate > 0, for: 0m}\n"
    )
    (tmp_path / "logs").mkdir()
    log = tmp_path / "logs" / "app.jsonl"
    log.write_bytes(b"")
    loaded = load_spec(tmp_path / "opsbook.yaml")
    store = open_store(root=tmp_path)
    ticks: list[float] = []
    stop = threading.Event()
    thread = threading.Thread(
        target=watch,
        args=(store, loaded),
        kwargs={"interval": 8.0, "stop": stop, "on_tick": lambda now, _: ticks.append(now)},
    )
    thread.start()
    try:
        wait_until(lambda: ticks, what="the first tick")
        first = ticks[0]
        line = {"ts": first.isoformat(), "route": "/", "status": 503, "ms": 5}
        _append(log, json.dumps(line).encode() + b"\n")
        wait_until(lambda: len(ticks) >= 2, what="a tick woken by the change")
        assert (ticks[1] - first).total_seconds() < 8.0  # woken early, not at the interval
    finally:
        stop.set()
        thread.join(timeout=20)
        store.close()


def test_two_sources_on_the_same_files_keep_their_own_windows(tmp_path: Path) -> None:
    """A second source reading the same files with a shorter window must not drop the lines
    the first one's longer window still needs."""
    _project(tmp_path)  # the logs folder
    text = SPEC.replace(
        '  app_logs: {logs: "logs/app*"}',
        '  app_logs: {logs: "logs/app*"}\n  same_logs: {logs: "logs/app*"}',
    )
    text += '  recent: {from: same_logs, over: 30s, value: "count(*)"}\n'
    (tmp_path / "opsbook.yaml").write_text(text)
    loaded = load_spec(tmp_path / "opsbook.yaml")
    log = tmp_path / "logs" / "app.jsonl"
    writer = Writer()
    log.write_bytes(writer.lines(12))
    ctx = tailing_context(loaded)
    for _ in range(3):
        _append(log, writer.lines(0.5))
        values = _same(loaded, ctx, writer.t)
    assert values["recent"] == [((), 15.0)]
