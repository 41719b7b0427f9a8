"""The files of a ``logs`` source and their lines by time.

Which files a source's globs name, the time of one JSON line, and where a time starts in a plain
file: apps write log lines in time order, so a binary search on byte positions finds a window's
first line without reading what comes before it. Both a whole-window read
(:mod:`opsbook.sources.logs`) and ``opsbook watch``'s tail (:mod:`opsbook.sources.logtail`) use
these.
"""

from __future__ import annotations

import glob
import gzip
import json
import os
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from pydantic import Field, model_validator

from opsbook.sources.base import SourceContext, SourceError
from opsbook.spec.strict import Model


class LogsConfig(Model):
    """``logs: "logs/*.jsonl"`` or ``logs: {path: [...], time: ts}``."""

    path: list[str]
    time: str = Field(default="ts", pattern=r"^[A-Za-z_][A-Za-z0-9_]*$")

    @model_validator(mode="before")
    @classmethod
    def _short(cls, value: Any) -> Any:
        return _config(value)


def _config(value: Any) -> Any:
    if isinstance(value, str):
        return {"path": [value]}
    if isinstance(value, list):
        return {"path": value}
    if isinstance(value, dict) and isinstance(value.get("path"), str):
        return {**value, "path": [value["path"]]}
    return value


def log_files(ctx: SourceContext, config: LogsConfig) -> list[Path]:
    found: set[Path] = set()
    for pattern in config.path:
        text = ctx.render(pattern)
        full = text if os.path.isabs(text) else str(ctx.root / text)
        found.update(Path(p) for p in glob.glob(full, recursive=True) if os.path.isfile(p))
    return sorted(found)


def line_time(line: bytes, field: str) -> float | None:
    """The time of one JSON log line in UNIX seconds, or None when it has none."""
    try:  # a byte that is not UTF-8 (a Latin-1 message) does not hide the line's time
        value = json.loads(line.decode("utf-8", "replace")).get(field)
    except (ValueError, AttributeError):
        return None
    if isinstance(value, bool):
        return None
    if isinstance(value, int | float):
        return float(value)
    if isinstance(value, str):
        try:
            parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
        except ValueError:
            return None
        if parsed.tzinfo is None:
            parsed = parsed.replace(tzinfo=UTC)
        return parsed.timestamp()
    return None


def window_bytes(path: Path, field: str, start: datetime, end: datetime) -> bytes:
    """The lines of one file that may fall in [start, end)."""
    try:
        if path.stat().st_mtime < start.timestamp():
            return b""  # last written before the window opened
        if path.suffix == ".gz":
            with gzip.open(path, "rb") as fh:
                return _ensure_newline(fh.read())
        with path.open("rb") as fh:
            begin = seek_time(fh, field, start.timestamp())
            stop = seek_time(fh, field, end.timestamp())
            fh.seek(begin)
            return _ensure_newline(fh.read(max(stop - begin, 0)))
    except OSError as err:
        raise SourceError(f"cannot read {path}: {err.strerror}") from None


def _ensure_newline(data: bytes) -> bytes:
    return data if not data or data.endswith(b"\n") else data + b"\n"


def seek_time(fh: Any, field: str, when: float) -> int:
    """Offset of the first line whose time is >= when (lines in time order).

    Binary search over byte positions: the first line starting at or after a position has a
    time that never decreases with the position.
    """
    fh.seek(0, os.SEEK_END)
    size = int(fh.tell())
    lo, hi = 0, size
    while lo < hi:
        mid = (lo + hi) // 2
        start = _line_start_after(fh, mid)
        if start >= size:
            hi = mid
            continue
        fh.seek(start)
        t = _next_time(fh, field)
        if t is not None and t < when:
            lo = mid + 1
        else:
            hi = mid
    return _line_start_after(fh, lo)


def _next_time(fh: Any, field: str, lines: int = 1000) -> float | None:
    """The time of the first line from here that has one (a line that is not JSON, or has no
    time, says nothing about where the window is), looking at most ``lines`` lines ahead."""
    for _ in range(lines):
        line = fh.readline()
        if not line:
            return None
        t = line_time(line, field)
        if t is not None:
            return t
    return None


def _line_start_after(fh: Any, pos: int) -> int:
    """The first line start at or after pos."""
    if pos == 0:
        return 0
    fh.seek(pos - 1)
    if fh.read(1) == b"\n":
        return pos
    fh.readline()
    return int(fh.tell())
