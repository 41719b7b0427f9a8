"""``logs``: JSON lines (globs, ``.gz``) read with DuckDB.

Evaluating at ``now`` reads only the window ``[now - over, now)``: files last written before the
window are skipped, and in a plain file the window's first line is found by binary search on the
time field (apps write log lines in time order). A replay reads the files once for all its
instants, with one ``GROUP BY`` per window when the instants tile the time line.
"""

from __future__ import annotations

import glob
import gzip
import io
import json
import os
from collections.abc import Iterable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pydantic import Field, model_validator

from opsbook.sources.base import Sample, SourceContext, SourceError, SourceKind
from opsbook.spec.models import Model

if TYPE_CHECKING:
    import duckdb

    from opsbook.monitor.config import Metric


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


class LogsSource(SourceKind):
    name = "logs"
    config_type = LogsConfig
    metric_fields = ("value", "where", "over", "by")
    required_fields = ("value", "over")

    def templates(self, config: Any) -> Iterable[str]:
        yield from config.path

    def read(self, ctx: SourceContext, config: Any, metric: Metric, now: datetime) -> list[Sample]:
        start = now - timedelta(seconds=float(metric.over or 0))
        data = b"".join(_window_bytes(f, config.time, start, now) for f in _files(ctx, config))
        if not data.strip():
            return []
        con = _connect()
        rel = con.read_json(io.BytesIO(data), format="newline_delimited")
        con.register("logs", rel)
        ts = _time_expr(rel, config.time)
        sql = (
            _select(metric, {"v": metric.value or "count(*)"})
            + f" FROM logs WHERE {ts} >= $1 AND {ts} < $2"
            + (f" AND ({metric.where})" if metric.where else "")
            + _group(metric)
        )
        rows = _execute(con, sql, [_param(rel, config.time, start), _param(rel, config.time, now)])
        return [_sample(metric, row, 0) for row in rows]

    def series(
        self,
        ctx: SourceContext,
        config: Any,
        metrics: dict[str, Metric],
        times: list[datetime],
    ) -> dict[str, list[list[Sample]]] | None:
        if not times:
            return {name: [] for name in metrics}
        files = [str(f) for f in _files(ctx, config)]
        if not files:
            return {name: [[] for _ in times] for name in metrics}
        longest = max(float(m.over or 0) for m in metrics.values())
        first, last = times[0] - timedelta(seconds=longest), times[-1]
        con = _connect()
        try:
            rel = con.read_json(files, format="newline_delimited", union_by_name=True)
        except Exception as err:  # DuckDB's errors share no base class worth naming
            raise SourceError(f"cannot read {', '.join(files)}: {_first_line(err)}") from None
        con.register("logs", rel)
        ts = _time_expr(rel, config.time)
        lo, hi = _param(rel, config.time, first), _param(rel, config.time, last)
        step = (times[1] - times[0]).total_seconds() if len(times) > 1 else None
        tiled = step is not None and all(
            (b - a).total_seconds() == step for a, b in zip(times, times[1:], strict=False)
        )
        out: dict[str, list[list[Sample]]] = {}
        # Metrics that differ only in their value read the file once, in one query.
        groups: dict[tuple[Any, ...], dict[str, Metric]] = {}
        for name, metric in metrics.items():
            groups.setdefault((metric.over, metric.where, tuple(metric.by)), {})[name] = metric
        for (over, where, _by), group in groups.items():
            sample_metric = next(iter(group.values()))
            values = {f"v{i}": m.value or "count(*)" for i, m in enumerate(group.values())}
            filt = f"{ts} >= $1 AND {ts} < $2" + (f" AND ({where})" if where else "")
            if tiled and step == float(over or 0):
                origin = _param(rel, config.time, times[0])
                bucket = f"time_bucket(INTERVAL '{int(step)} seconds', {ts}, $3)"
                if not isinstance(origin, datetime):
                    bucket = f"floor(({ts} - $3) / {step}) * {step} + $3"
                cols = ", ".join([*(_quote(b) for b in sample_metric.by), bucket])
                sql = (
                    _select(sample_metric, values, extra=f"{bucket} AS _bucket")
                    + f" FROM logs WHERE {filt} GROUP BY {cols}"
                )
                rows = _execute(con, sql, [lo, hi, origin])
                per_time: dict[Any, list[tuple[Any, ...]]] = {}
                for row in rows:
                    per_time.setdefault(_bucket_end(row[-1], step), []).append(row[:-1])
                for i, name in enumerate(group):
                    out[name] = [
                        [_sample(group[name], r, i) for r in per_time.get(_key(t), [])]
                        for t in times
                    ]
                continue
            con.execute(f"CREATE OR REPLACE TEMP TABLE w AS SELECT * FROM logs WHERE {filt}", [lo, hi])
            per_name: dict[str, list[list[Sample]]] = {n: [] for n in group}
            for t in times:
                start = t - timedelta(seconds=float(over or 0))
                sql = (
                    _select(sample_metric, values)
                    + f" FROM w WHERE {ts} >= $1 AND {ts} < $2"
                    + _group(sample_metric)
                )
                rows = _execute(
                    con, sql, [_param(rel, config.time, start), _param(rel, config.time, t)]
                )
                for i, name in enumerate(group):
                    per_name[name].append([_sample(group[name], r, i) for r in rows])
            out.update(per_name)
        return out


def _connect() -> duckdb.DuckDBPyConnection:
    import duckdb

    con = duckdb.connect()
    con.execute("SET TimeZone = 'UTC'")
    return con


def _first_line(err: BaseException) -> str:
    return str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__


def _execute(con: duckdb.DuckDBPyConnection, sql: str, params: list[Any]) -> list[tuple[Any, ...]]:
    try:
        return con.execute(sql, params).fetchall()
    except Exception as err:  # DuckDB's binder/parser errors: the user's SQL is wrong
        raise SourceError(f"DuckDB: {_first_line(err)}") from None


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


def _time_expr(rel: Any, field: str) -> str:
    if field not in rel.columns:
        raise SourceError(f"log lines have no '{field}' field; set time: to the field holding the time")
    return _quote(field)


def _param(rel: Any, field: str, when: datetime) -> Any:
    kind = str(rel.types[rel.columns.index(field)]).upper()
    if "TIMESTAMP" in kind or "DATE" in kind:
        return when
    if "VARCHAR" in kind:
        return when.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"
    return when.timestamp()


def _files(ctx: SourceContext, config: LogsConfig) -> list[Path]:
    found: set[Path] = set()
    for pattern in config.path:
        text = ctx.render(pattern)
        full = text if os.path.isabs(text) else str(ctx.root / text)
        found.update(Path(p) for p in glob.glob(full, recursive=True) if os.path.isfile(p))
    return sorted(found)


def line_time(line: bytes, field: str) -> float | None:
    """The time of one JSON log line in UNIX seconds, or None when it has none."""
    try:
        value = json.loads(line).get(field)
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


def _window_bytes(path: Path, field: str, start: datetime, end: datetime) -> bytes:
    """The lines of one file that may fall in [start, end)."""
    try:
        if path.stat().st_mtime < start.timestamp():
            return b""  # last written before the window opened
        if path.suffix == ".gz":
            with gzip.open(path, "rb") as fh:
                return _ensure_newline(fh.read())
        with path.open("rb") as fh:
            begin = _seek_time(fh, field, start.timestamp())
            stop = _seek_time(fh, field, end.timestamp())
            fh.seek(begin)
            return _ensure_newline(fh.read(max(stop - begin, 0)))
    except OSError as err:
        raise SourceError(f"cannot read {path}: {err.strerror}") from None


def _ensure_newline(data: bytes) -> bytes:
    return data if not data or data.endswith(b"\n") else data + b"\n"


def _seek_time(fh: Any, field: str, when: float) -> int:
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
        t = line_time(fh.readline(), field)
        if t is not None and t < when:
            lo = mid + 1
        else:
            hi = mid
    return _line_start_after(fh, lo)


def _line_start_after(fh: Any, pos: int) -> int:
    """The first line start at or after pos."""
    if pos == 0:
        return 0
    fh.seek(pos - 1)
    if fh.read(1) == b"\n":
        return pos
    fh.readline()
    return int(fh.tell())
