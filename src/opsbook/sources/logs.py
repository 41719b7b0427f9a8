"""``logs``: JSON lines (globs, ``.gz``) read with DuckDB.

Evaluating at ``now`` reads only the window ``[now - over, now)``: files last written before the
window are skipped, and in a plain file the window's first line is found by binary search on the
time field (apps write log lines in time order). A replay reads the files once for all its
instants, with one ``GROUP BY`` per window when the instants tile the time line. ``opsbook
watch`` tails the files instead (see :mod:`opsbook.sources.logtail`): each tick reads only the
bytes appended since the last.
"""

from __future__ import annotations

import gzip
import io
import itertools
import re
import threading
import uuid
from collections.abc import Iterable
from datetime import datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

from opsbook.sources.base import Sample, SourceContext, SourceError, SourceKind
from opsbook.sources.logfiles import LogsConfig, log_files, window_bytes

if TYPE_CHECKING:
    import duckdb

    from opsbook.monitor.config import Metric


HEAD_BYTES = 1 << 20


class LogsSource(SourceKind):
    name = "logs"
    config_type = LogsConfig
    metric_fields = ("value", "where", "over", "by")
    required_fields = ("value", "over")

    def templates(self, config: Any) -> Iterable[str]:
        yield from config.path

    def read(self, ctx: SourceContext, config: Any, metric: Metric, now: datetime) -> list[Sample]:
        found = self.series(ctx, config, {"m": metric}, [now])["m"]
        if isinstance(found, SourceError):
            raise found
        return found[0]

    def series(
        self,
        ctx: SourceContext,
        config: Any,
        metrics: dict[str, Metric],
        times: list[datetime],
    ) -> dict[str, list[list[Sample]] | SourceError]:
        if not times:
            return {name: [] for name in metrics}
        longest = max(float(m.over or 0) for m in metrics.values())
        first, last = times[0] - timedelta(seconds=longest), times[-1]
        files = log_files(ctx, config)
        step = (times[1] - times[0]).total_seconds() if len(times) > 1 else None
        tiled = step is not None and all(
            (b - a).total_seconds() == step for a, b in itertools.pairwise(times)
        )
        con = _connection()
        repaired = None
        if tiled and len(times) > 2:
            # A replay over a long range: DuckDB reads the files itself, in parallel. It reads a
            # line that is not UTF-8 as nulls, so those lines are read again, repaired, beside
            # the files.
            kept = [f for f in files if _may_hold(f, first)]
            columns = _columns(b"".join(_head(f) for f in kept[:3]), config.time)
            paths = [str(f) for f in kept]
            bad = b"".join(_not_utf8_lines(f) for f in kept)
            if bad:
                repaired = _in_memory(con, _utf8(bad))
                paths.append(f"memory://{repaired}")
            table = _reader(paths, columns)
        else:
            data = _utf8(_window_data(ctx, config, files, first, last))
            columns = _columns(data, config.time)
            table = _load_window(con, data, columns)
        try:
            return self._series(
                con,
                table,
                columns,
                config=config,
                metrics=metrics,
                times=times,
                window=(first, last),
                tiled=tiled,
                step=step,
            )
        finally:
            if repaired is not None:
                _memory(con).rm(repaired)

    def _series(
        self,
        con: duckdb.DuckDBPyConnection,
        table: str | None,
        columns: dict[str, str],
        *,
        config: LogsConfig,
        metrics: dict[str, Metric],
        times: list[datetime],
        window: tuple[datetime, datetime],
        tiled: bool,
        step: float | None,
    ) -> dict[str, list[list[Sample]] | SourceError]:
        """Each metric's samples at each instant, read from ``table`` (``window``: from the
        first instant's longest window to the last instant)."""
        first, last = window
        if table is None:
            return {name: [[] for _ in times] for name in metrics}
        if config.time not in columns:
            raise SourceError(
                f"log lines have no '{config.time}' field; set time: to the field holding the time"
            )
        ts = _quote(config.time)
        if columns[config.time] != "TIMESTAMPTZ":
            ts = f"to_timestamp({ts})"
        bucketable = tiled and all(float(m.over or 0) == step for m in metrics.values())
        if table.startswith("read_json") and not bucketable:
            # Many windows over one range: read the files once into a table, query it per instant.
            sql = f"CREATE OR REPLACE TEMP TABLE logs_range AS SELECT * FROM {table} "
            _execute(con, sql + f"WHERE {ts} >= $1 AND {ts} < $2", [first, last])
            table = "logs_range"
        out: dict[str, list[list[Sample]] | SourceError] = {}
        # Metrics that differ only in their value read the data once, in one query.
        groups: dict[tuple[Any, ...], dict[str, Metric]] = {}
        for name, metric in metrics.items():
            groups.setdefault((metric.over, metric.where, tuple(metric.by)), {})[name] = metric
        for (over, where, _by), group in groups.items():
            try:
                out.update(
                    _group_series(
                        con, table, ts, group, over, where, times, tiled, step, first, last
                    )
                )
            except SourceError as err:
                # One metric's bad SQL leaves the others of the source readable.
                out.update({name: err for name in group})
        return out


def _window_data(
    ctx: SourceContext, config: LogsConfig, files: list[Path], first: datetime, last: datetime
) -> bytes:
    """The lines of the window: from the tail ``opsbook watch`` keeps (only new bytes read), or
    read now from the files."""
    from opsbook.sources.logtail import tail_of

    tail = tail_of(ctx, (tuple(config.path), config.time, (last - first).total_seconds()))
    if tail is not None:
        return tail.window(files, first, last)
    return b"".join(window_bytes(f, config.time, first, last) for f in files)


def _utf8(data: bytes) -> bytes:
    """The window's lines with any byte that is not UTF-8 replaced by U+FFFD: DuckDB skips a
    line holding one (as it skips a line that is not JSON), so a 500 whose message carries a
    Latin-1 byte would not be counted."""
    try:
        data.decode("utf-8")
    except UnicodeDecodeError:
        return data.decode("utf-8", "replace").encode("utf-8")
    return data


def _not_utf8_lines(path: Path) -> bytes:
    """The lines of a log file that are not UTF-8 (a Latin-1 message), as they are; usually
    none, found at memory speed: 4 MB at a time, checked for ASCII, then decoded whole, and
    split into lines only when that fails. A line over 16 MB is not a log line: its start is
    left out."""
    found: list[bytes] = []
    rest = b""
    try:
        with _open_log(path) as fh:
            while chunk := fh.read(1 << 22):
                if chunk.isascii() and rest.isascii():
                    cut = chunk.rfind(b"\n") + 1
                    rest = chunk[cut:] if cut else rest + chunk
                else:
                    data = rest + chunk
                    cut = data.rfind(b"\n") + 1
                    found += _not_utf8(data[:cut])
                    rest = data[cut:]
                if len(rest) > HEAD_BYTES * 16:
                    rest = b""
            found += _not_utf8(rest + b"\n" if rest else b"")
    except (OSError, EOFError) as err:
        raise SourceError(f"cannot read {path}: {err}") from None
    return b"".join(found)


def _not_utf8(lines: bytes) -> list[bytes]:
    """Of whole lines (each ending with a newline), those that are not UTF-8."""
    try:
        lines.decode("utf-8")
        return []
    except UnicodeDecodeError:
        pass
    found = []
    for line in lines.split(b"\n")[:-1]:
        try:
            line.decode("utf-8")
        except UnicodeDecodeError:
            found.append(line + b"\n")
    return found


def _in_memory(con: duckdb.DuckDBPyConnection, data: bytes) -> str:
    """``data`` as a file of DuckDB's in-memory file system (log lines never go to a temp file
    on disk); its name. The caller removes it."""
    name = f"/lines-{uuid.uuid4().hex}.jsonl"
    with _memory(con).open(name, "wb") as fh:
        fh.write(data)
    return name


def _group_series(
    con: duckdb.DuckDBPyConnection,
    table: str,
    ts: str,
    group: dict[str, Metric],
    over: float | None,
    where: str | None,
    times: list[datetime],
    tiled: bool,
    step: float | None,
    first: datetime,
    last: datetime,
) -> dict[str, list[list[Sample]]]:
    """Metrics that differ only in their value, over one table, in one query."""
    out: dict[str, list[list[Sample]]] = {}
    one = next(iter(group.values()))
    values = {f"v{i}": m.value or "count(*)" for i, m in enumerate(group.values())}
    cond = f" AND ({where})" if where else ""
    if tiled and step == float(over or 0):
        bucket = f"time_bucket(INTERVAL '{int(step)} seconds', {ts}, $3::TIMESTAMPTZ)"
        cols = ", ".join([*(_quote(b) for b in one.by), bucket])
        sql = (
            _select(one, values, extra=f"{bucket} AS _bucket")
            + f" FROM {table} WHERE {ts} >= $1 AND {ts} < $2{cond} GROUP BY {cols}"
        )
        rows = _execute(con, sql, [first, last, times[0]])
        per_time: dict[float, list[tuple[Any, ...]]] = {}
        for row in rows:
            per_time.setdefault(_bucket_end(row[-1], step), []).append(row[:-1])
        keys = [_key(t) for t in times]  # once, not once per metric of the group
        for i, name in enumerate(group):
            out[name] = [[_sample(group[name], r, i) for r in per_time.get(k, ())] for k in keys]
        return out
    per_name: dict[str, list[list[Sample]]] = {n: [] for n in group}
    for t in times:
        start = t - timedelta(seconds=float(over or 0))
        sql = (
            _select(one, values)
            + f" FROM {table} WHERE {ts} >= $1 AND {ts} < $2{cond}"
            + _group(one)
        )
        rows = _execute(con, sql, [start, t])
        for i, name in enumerate(group):
            per_name[name].append([_sample(group[name], r, i) for r in rows])
    out.update(per_name)
    return out


_local = threading.local()

SETTINGS = "SET TimeZone = 'UTC'; SET enable_progress_bar = false"
"""Every connection's settings. DuckDB draws a progress bar on stdout for any query over two
seconds: a replay over a large enough log would write it into --json output."""


def _connection() -> duckdb.DuckDBPyConnection:
    """One DuckDB connection per thread, kept: connecting costs more than a window's query."""
    con = getattr(_local, "con", None)
    if con is None:
        import duckdb

        con = duckdb.connect()
        con.execute(SETTINGS)
        _local.con = con
        _local.memory = None
    return con


def _memory(con: duckdb.DuckDBPyConnection) -> Any:
    """The in-memory file system windows are written to, registered with the thread's
    connection on first use (a replay over files never needs it, nor fsspec's import)."""
    if _local.memory is None:
        import fsspec

        _local.memory = fsspec.filesystem("memory", skip_instance_cache=True)
        con.register_filesystem(_local.memory)
    return _local.memory


_FIELD = re.compile(
    rb'"([^"\\]+(?:\\.[^"\\]*)*|(?:\\.[^"\\]*)+)"\s*:\s*("|-?\d+(\.\d*)?([eE][-+]?\d+)?|t|f|n|\[|\{)'
)


def _columns(sample: bytes, time_field: str) -> dict[str, str]:
    """Column types of JSON lines, from every key in the sample (DuckDB's own detection costs
    more than a window's query, and samples only some lines: a rare event's fields matter).

    A field that is sometimes an integer and sometimes a float is DOUBLE; anything mixed
    otherwise is VARCHAR. The time field is TIMESTAMPTZ when written as text.
    """
    types: dict[str, str] = {}
    # Lines repeat their keys and value shapes: classify each distinct (key, shape) once (the
    # merge below gives the same types in any order).
    for raw, value, fraction, exponent in sorted(set(_FIELD.findall(sample))):
        key, start = raw.decode(errors="replace"), value[:1]
        if start == b"n":
            continue
        if start == b'"':
            kind = "VARCHAR"
        elif start in (b"t", b"f"):
            kind = "BOOLEAN"
        elif start in (b"[", b"{"):
            kind = "JSON"
        else:
            kind = "DOUBLE" if fraction or exponent else "BIGINT"
        seen = types.get(key)
        if seen is None or seen == kind:
            types[key] = kind
        elif {seen, kind} == {"BIGINT", "DOUBLE"}:
            types[key] = "DOUBLE"
        else:
            types[key] = "VARCHAR"
    if types.get(time_field) == "VARCHAR":
        types[time_field] = "TIMESTAMPTZ"
    elif time_field in types:
        types[time_field] = "DOUBLE"  # UNIX seconds, compared as epoch below
    return types


def _reader(paths: list[str], columns: dict[str, str]) -> str | None:
    if not paths or not columns:
        return None
    listed = ", ".join("'" + p.replace("'", "''") + "'" for p in paths)
    spec = ", ".join(f"{_quote(k)}: '{v}'" for k, v in columns.items())
    return (
        f"read_json([{listed}], format = 'newline_delimited', columns = {{{spec}}}, "
        "ignore_errors = true)"
    )


def _load_window(
    con: duckdb.DuckDBPyConnection, data: bytes, columns: dict[str, str]
) -> str | None:
    """Put a window's lines in the temp table ``logs_window``; None when there are none."""
    if not data.strip() or not columns:
        return None
    name = _in_memory(con, data)
    try:
        reader = _reader([f"memory://{name}"], columns)
        _execute(con, f"CREATE OR REPLACE TEMP TABLE logs_window AS SELECT * FROM {reader}", [])
    finally:
        _memory(con).rm(name)
    return "logs_window"


def _may_hold(path: Path, start: datetime) -> bool:
    try:
        return path.stat().st_mtime >= start.timestamp()
    except OSError:
        return False


def _open_log(path: Path) -> io.BufferedIOBase:
    """A log file for reading, gzip-compressed or not (by its ``.gz`` suffix)."""
    return gzip.open(path, "rb") if path.suffix == ".gz" else path.open("rb")


def _head(path: Path) -> bytes:
    try:
        with _open_log(path) as fh:
            return bytes(fh.read(HEAD_BYTES))
    except OSError as err:
        raise SourceError(f"cannot read {path}: {err.strerror}") from None


def _first_line(err: BaseException) -> str:
    return str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__


def _execute(con: duckdb.DuckDBPyConnection, sql: str, params: list[Any]) -> list[tuple[Any, ...]]:
    try:
        return con.execute(sql, params).fetchall()
    except Exception as err:  # DuckDB's binder/parser errors: the user's SQL is wrong
        if _interrupted(err):
            # DuckDB ran Python's signal handler and made its interrupt an error of its own. As
            # a source error the Ctrl-C was lost: a monitor step read "no data" and went on
            # watching (a run's handler had killed the other steps already), and so did watch.
            raise KeyboardInterrupt from None
        raise SourceError(f"DuckDB: {_first_line(err)}") from None


def _interrupted(err: Exception) -> bool:
    """Whether DuckDB stopped a query for a Ctrl-C (the error's class depends on where in the
    query it was noticed)."""
    import duckdb

    if isinstance(err, duckdb.InterruptException):
        return True
    return type(err) is RuntimeError and str(err).strip().lower() == "query interrupted"


def _quote(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _select(metric: Metric, values: dict[str, str], extra: str = "") -> str:
    cols = [f"{_quote(b)}::VARCHAR" for b in metric.by]
    cols += [f"({expr})::DOUBLE AS {alias}" for alias, expr in values.items()]
    if extra:
        cols.append(extra)
    return "SELECT " + ", ".join(cols)


def _group(metric: Metric) -> str:
    if not metric.by:
        return ""
    return " GROUP BY " + ", ".join(_quote(b) for b in metric.by)


def _sample(metric: Metric, row: tuple[Any, ...], index: int) -> Sample:
    labels = {b: "" if row[i] is None else str(row[i]) for i, b in enumerate(metric.by)}
    value = row[len(metric.by) + index]
    return Sample(labels, None if value is None else float(value))


def _key(t: datetime) -> float:
    return round(t.timestamp(), 3)


def _bucket_end(start: Any, step: float) -> float:
    begin = start.timestamp() if isinstance(start, datetime) else float(start)
    return round(begin + step, 3)
