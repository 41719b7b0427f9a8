"""Tailing JSON-log files for ``opsbook watch``: each tick reads only the bytes appended since the
last one, and keeps the lines of the longest window in memory.

Per file it remembers its identity (device, inode) and the offset after the last complete line.
A file at the same path with another identity was rotated: the new file is read from the
window's first line (binary search, as a full evaluation does), and a rotated file that still
matches the glob under its new name keeps its offset (same identity, new path). A file shorter
than its offset, or whose bytes just before the offset changed, was truncated (and maybe written
again since) and is read again from the window's start. ``.gz`` files are read whole,
again only when their size or modification time changes. A line not yet ended by a newline waits
for the next tick.

The lines handed to DuckDB are those of the window ``[now - longest, now)`` in the same order a
full evaluation reads them (files sorted by path, lines in file order), so every metric's value
equals the full evaluation's. Lines without a readable time are not kept: every query filters on
the time field, so they never count.
"""

from __future__ import annotations

import gzip
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

from opsbook.sources.base import SourceContext, SourceError
from opsbook.sources.logfiles import LogsConfig, line_time, log_files, seek_time

TAILING = "logs.tail"
"""Key of :attr:`SourceContext.cache` that turns tailing on (``opsbook watch`` sets it)."""
CHECK_BYTES = 64
"""Bytes before a file's offset compared at every tick to notice a truncation."""


@dataclass(kw_only=True)
class _File:
    ident: tuple[int, int]
    offset: int = 0
    before: bytes = b""
    """The bytes just before ``offset``: when they changed, the file was truncated and written
    again (copy-truncate), even if it has grown past the offset since."""
    signature: tuple[int, int] | None = None
    """(size, mtime_ns) of a ``.gz`` file when it was read."""
    lines: list[tuple[float, bytes]] = field(default_factory=list)


@dataclass(kw_only=True)
class LogTail:
    """The tail of one ``logs`` source's files."""

    time_field: str
    files: dict[Path, _File] = field(default_factory=dict)
    bytes_read: int = 0
    """Bytes read from the files so far (tests compare it with a full evaluation's)."""

    def window(self, paths: list[Path], first: datetime, last: datetime) -> bytes:
        """The lines of ``paths`` timed in ``[first, last)``, reading only what is new."""
        start, end = first.timestamp(), last.timestamp()
        by_ident = {state.ident: state for state in self.files.values()}
        kept: dict[Path, _File] = {}
        for path in paths:
            try:
                state = self._update(path, by_ident, start)
            except OSError as err:
                raise SourceError(f"cannot read {path}: {err.strerror}") from None
            state.lines = [line for line in state.lines if line[0] >= start]
            kept[path] = state
        self.files = kept
        return b"".join(
            text for state in kept.values() for t, text in state.lines if start <= t < end
        )

    def _update(self, path: Path, by_ident: dict[tuple[int, int], _File], start: float) -> _File:
        info = path.stat()
        ident = (info.st_dev, info.st_ino)
        state = self.files.get(path)
        if state is None or state.ident != ident:
            state = by_ident.get(ident)  # renamed by a rotation, still matched by the glob
        if path.suffix == ".gz":
            signature = (info.st_size, info.st_mtime_ns)
            if state is None or state.signature != signature:
                with gzip.open(path, "rb") as fh:
                    data = fh.read()
                self.bytes_read += len(data)
                state = _File(
                    ident=ident, offset=len(data), signature=signature, lines=self._parse(data)
                )
            return state
        if state is None or state.ident != ident or not self._intact(path, state, info.st_size):
            state = _File(
                ident=ident, offset=self._window_start(path, start)
            )  # new, rotated in, truncated
        if info.st_size > state.offset:
            self._read_new(path, state, info.st_size)
        return state

    def _intact(self, path: Path, state: _File, size: int) -> bool:
        """Whether the file still holds what was read of it (not truncated since)."""
        if size < state.offset:
            return False
        if not state.before:
            return True
        with path.open("rb") as fh:
            fh.seek(state.offset - len(state.before))
            seen = fh.read(len(state.before))
        self.bytes_read += len(seen)
        return seen == state.before

    def _window_start(self, path: Path, start: float) -> int:
        with path.open("rb") as fh:
            return seek_time(fh, self.time_field, start)

    def _read_new(self, path: Path, state: _File, size: int) -> None:
        with path.open("rb") as fh:
            fh.seek(state.offset)
            data = fh.read(size - state.offset)
        self.bytes_read += len(data)
        complete = data.rfind(b"\n") + 1  # a line still being written waits for the next tick
        state.offset += complete
        if complete:
            state.before = (state.before + data[:complete])[-CHECK_BYTES:]
        state.lines.extend(self._parse(data[:complete]))

    def _parse(self, data: bytes) -> list[tuple[float, bytes]]:
        out = []
        for line in data.splitlines(keepends=True):
            t = line_time(line, self.time_field)
            if t is not None:
                out.append((t, line if line.endswith(b"\n") else line + b"\n"))
        return out


def files_signature(ctx: SourceContext) -> tuple[tuple[str, int, int, int], ...]:
    """Path, inode, size and modification time of every file of the spec's ``logs`` sources:
    cheap to take (a glob and a stat per file), it changes when a line is written."""
    out = []
    for source in ctx.spec.sources.values():
        if source.kind != "logs" or not isinstance(source.config, LogsConfig):
            continue
        for path in log_files(ctx, source.config):
            try:
                info = path.stat()
            except OSError:
                continue
            out.append((str(path), info.st_ino, info.st_size, info.st_mtime_ns))
    return tuple(sorted(out))


def tail_of(ctx: SourceContext, source: tuple[tuple[str, ...], str, float]) -> LogTail | None:
    """The tail kept for a source (its paths, time field and longest window: two sources on
    the same files keep their own lines) in this context; None when the context does not tail."""
    if not ctx.cache.get(TAILING):
        return None
    key = (TAILING, source)
    tail = ctx.cache.get(key)
    if tail is None:
        tail = ctx.cache[key] = LogTail(time_field=source[1])
    assert isinstance(tail, LogTail)
    return tail


__all__ = ["TAILING", "LogTail", "tail_of"]
