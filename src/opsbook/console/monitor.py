"""Showing monitoring: metric values, alert states, replayed transitions, silences."""

from __future__ import annotations

from datetime import UTC, datetime

from opsbook.console import Table, out
from opsbook.console.untrusted import escape
from opsbook.monitor.alert_tests import Outcome
from opsbook.monitor.anomaly import Band
from opsbook.monitor.evaluate import AlertStatus, Evaluation
from opsbook.monitor.metrics import Reading
from opsbook.monitor.replay import Replay
from opsbook.monitor.slo import SloStatus
from opsbook.monitor.state import Transition
from opsbook.notify.silences import Silence
from opsbook.spec.durations import format_duration

STATE_STYLE = {"firing": "red", "pending": "yellow", "inactive": "green"}


def when(at: float | None) -> str:
    if at is None:
        return "-"
    return datetime.fromtimestamp(at, UTC).strftime("%Y-%m-%d %H:%M:%S")


def _labels(labels: dict[str, str]) -> str:
    shown = {k: v for k, v in labels.items() if k not in ("alertname", "severity")}
    return ", ".join(f"{k}={v}" for k, v in sorted(shown.items()))


def _value(value: float | None) -> str:
    return "nodata" if value is None else f"{value:.6g}"


def show_readings(readings: dict[str, Reading]) -> None:
    table = Table(box=None, pad_edge=False, title_justify="left")
    for column in ("metric", "labels", "value"):
        table.add_column(column)
    for name, reading in readings.items():
        if reading.error:
            table.add_row(name, "", f"nodata ({escape(reading.error)})")
        elif not reading.samples:
            table.add_row(name, "", "nodata")
        for sample in reading.samples:
            table.add_row(name, escape(_labels(sample.labels)), _value(sample.value))
    out.print(table)


def show_alerts(statuses: list[AlertStatus], *, header: str = "", bands: bool = True) -> None:
    """The alert instances; with ``bands``, an anomaly alert's band beside its value (``monitor
    eval`` shows the bands in a table of their own)."""
    if header:
        out.print(header)
    if not statuses:
        out.print("no alerts")
        return
    table = Table(box=None, pad_edge=False)
    for column in ("alert", "state", "severity", "labels", "value", "since", "summary"):
        table.add_column(column)
    for status in sorted(statuses, key=lambda s: (s.alert, s.fingerprint)):
        inst = status.instance
        band = _band(status.band) if bands else ""
        state = status.state.value
        since = inst.firing_since or inst.active_at or inst.resolved_at
        shown = state + (" (nodata)" if inst.nodata else "")
        if state == "inactive" and inst.resolved_at is not None:
            shown = "resolved"
        table.add_row(
            escape(status.alert),
            f"[{STATE_STYLE.get(state, '')}]{shown}[/]",
            escape(status.severity),
            escape(_labels(status.labels)),
            "-" if status.origin == "intake" else _value(inst.value) + band,
            when(since),
            escape(status.annotations.get("summary", "")),
        )
    out.print(table)


def _band(band: tuple[float, float] | None) -> str:
    return "" if band is None else f" (band {_value(band[0])} .. {_value(band[1])})"


def show_bands(bands: dict[str, list[Band]]) -> None:
    """Each anomaly alert's band: the value against the edges its history gives."""
    table = Table(box=None, pad_edge=False)
    for column in ("anomaly", "labels", "value", "band", "where"):
        table.add_column(column)
    for name, found in bands.items():
        for band in found:
            if band.low is None or band.high is None:
                edges, verdict = "no band (too little history)", ""
            else:
                edges = f"{_value(band.low)} .. {_value(band.high)}"
                verdict = "" if band.outside is None else ["inside", "outside"][band.outside]
            table.add_row(
                escape(name), escape(_labels(band.labels)), _value(band.value), edges, verdict
            )
    out.print(table)


def show_evaluation(evaluation: Evaluation) -> None:
    out.print(f"evaluated at {evaluation.now.strftime('%Y-%m-%d %H:%M:%S')} UTC")
    show_readings(evaluation.readings)
    out.print()
    if any(evaluation.bands.values()):
        show_bands(evaluation.bands)
        out.print()
    show_alerts(evaluation.alerts, bands=False)
    firing = len(evaluation.firing)
    out.print()
    out.print(f"{firing} firing" if firing else "nothing firing")


def show_transitions(replay: Replay) -> None:
    for name, problem in replay.errors.items():
        out.print(f"[yellow]metric {escape(name)}: no data: {escape(problem)}[/yellow]")
    for change in replay.transitions:
        labels = _labels(change.labels)
        shown = f" {{{escape(labels)}}}" if labels else ""
        out.print(
            f"{when(change.at)}  {escape(change.alert)}{shown}"
            f"  {change.event.removeprefix('alert.')}  value={_value(change.value)}"
        )
    out.print(
        f"{len(replay.transitions)} transition{'s' * (len(replay.transitions) != 1)} in "
        f"{replay.steps} evaluations from {replay.start.strftime('%Y-%m-%d %H:%M:%S')} to "
        f"{replay.end.strftime('%Y-%m-%d %H:%M:%S')} UTC"
    )


def transition_dict(change: Transition) -> dict[str, object]:
    return {**change.to_dict(), "time": when(change.at)}


def show_silences(silences: list[Silence], now: float) -> None:
    if not silences:
        out.print("no silences")
        return
    table = Table(box=None, pad_edge=False)
    for column in ("id", "state", "matchers", "ends", "author", "comment"):
        table.add_column(column)
    for s in silences:
        state = (
            "active"
            if s.active(now)
            else ("expired" if s.expired_at or s.ends_at <= now else "pending")
        )
        table.add_row(
            s.id,
            state,
            escape(", ".join(s.matchers)),
            when(s.ends_at),
            escape(s.author),
            escape(s.comment),
        )
    out.print(table)


def _percent(value: float | None) -> str:
    return "-" if value is None else f"{value * 100:.2f}%"


def _rate(value: float | None) -> str:
    return "-" if value is None else f"{value:.2f}x"


def show_slos(statuses: list[SloStatus]) -> None:
    if not statuses:
        out.print("no SLOs; declare them under slos:")
        return
    for status in statuses:
        where = f" in {status.calendar}" if status.calendar else ""
        out.print(
            f"[bold]{escape(status.name)}[/bold]  objective {status.objective:g}% over "
            f"{status.window}{escape(where)}: {status.total:g} events, {status.bad:g} bad "
            f"({_percent(status.error_ratio)}), budget left {_percent(status.remaining)}"
        )
        table = Table(box=None, pad_edge=False)
        for column in ("alert", "long", "short", "factor", "long burn", "short burn", "burning"):
            table.add_column(column)
        for burn in status.burns:
            table.add_row(
                burn.severity,
                format_duration(burn.long),
                format_duration(burn.short),
                f"{burn.factor:g}",
                _rate(burn.long_rate),
                _rate(burn.short_rate),
                "yes" if burn.burning and burn.long_events >= status.min_events else "no",
            )
        out.print(table)


def show_alert_tests(outcomes: list[Outcome]) -> None:
    for o in outcomes:
        stamp = o.at.strftime("%Y-%m-%d %H:%M:%S")
        if o.ok:
            out.print(f"ok      {stamp}  firing: {', '.join(o.firing) or 'none'}")
            continue
        out.print(
            f"[red]FAILED[/red]  {stamp}  firing: {escape(', '.join(o.firing) or 'none')}; "
            f"expected {escape(', '.join(o.expected_firing) or 'none')}"
        )
        if o.expected_pending is not None:
            out.print(
                f"        pending: {escape(', '.join(o.pending) or 'none')}; expected "
                f"{escape(', '.join(o.expected_pending) or 'none')}"
            )
    passed = sum(o.ok for o in outcomes)
    out.print(f"{passed} of {len(outcomes)} passed")
