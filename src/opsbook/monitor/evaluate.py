"""One evaluation at ``now``: read the metrics, step every alert instance, store transitions.

:func:`step_alerts` is pure (readings + previous instances → new instances + transitions), so a
replay runs it over a past interval in memory and ``watch`` runs it against the store; both give
the same transitions. :func:`evaluate` is the stored version: one transaction writes the
instances and one event per transition to the hash chain, then transition hooks run.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import asdict, dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any

from opsbook.monitor.anomaly import Band, Baselines, Truth, truths_of
from opsbook.monitor.labels import fingerprint
from opsbook.monitor.metrics import Reading, read_series, source_context
from opsbook.monitor.state import AlertState, Instance, Rule, Transition, step, transition
from opsbook.sources.base import Sample

if TYPE_CHECKING:
    from opsbook.monitor.config import Alert
    from opsbook.monitor.slo import StepsCache
    from opsbook.spec.loader import LoadedSpec
    from opsbook.spec.models import Spec
    from opsbook.store import Store

ACTOR = "opsbook-monitor"


@dataclass
class AlertStatus:
    """One alert instance after an evaluation."""

    alert: str
    labels: dict[str, str]
    annotations: dict[str, str]
    instance: Instance
    origin: str = "rule"
    band: tuple[float, float] | None = None
    """An anomaly alert's band (low, high) at the last evaluation."""

    @property
    def fingerprint(self) -> str:
        return fingerprint(self.labels)

    @property
    def state(self) -> AlertState:
        return self.instance.state

    @property
    def severity(self) -> str:
        return self.labels.get("severity", "")

    def to_dict(self) -> dict[str, Any]:
        return {
            "alert": self.alert,
            "state": self.state.value,
            "labels": self.labels,
            "annotations": self.annotations,
            "fingerprint": self.fingerprint,
            "origin": self.origin,
            **{k: v for k, v in asdict(self.instance).items() if k != "state"},
            "band": None if self.band is None else {"low": self.band[0], "high": self.band[1]},
        }


@dataclass
class Evaluation:
    """What one evaluation found."""

    now: datetime
    readings: dict[str, Reading] = field(default_factory=dict)
    alerts: list[AlertStatus] = field(default_factory=list)
    transitions: list[Transition] = field(default_factory=list)
    bands: dict[str, list[Band]] = field(default_factory=dict)
    """Per anomaly alert, each series' band at ``now`` (shown, not stored)."""

    @property
    def firing(self) -> list[AlertStatus]:
        return [a for a in self.alerts if a.state == AlertState.FIRING]


def rule_of(alert: Alert) -> Rule:
    return Rule(for_=alert.for_, keep_firing_for=alert.keep_firing_for, on_nodata=alert.on_nodata)


def _annotations(alert: Alert, value: float | None) -> dict[str, str]:
    shown = "" if value is None else f"{value:.4g}"
    out = {}
    for key in ("summary", "description", "runbook"):
        text = getattr(alert, key)
        if text:
            out[key] = text.replace("{{ value }}", shown).replace("{{value}}", shown)
    return out


def step_alerts(
    spec: Spec,
    readings: Mapping[str, Reading],
    previous: Mapping[tuple[str, str], AlertStatus],
    now: datetime,
    holds: Mapping[str, tuple[bool | None, float | None]] | None = None,
    bands: Mapping[str, list[Truth]] | None = None,
) -> tuple[list[AlertStatus], list[Transition]]:
    """Every rule's instances after an evaluation at ``now`` (pure).

    ``previous`` maps (alert, fingerprint) to the stored instance. ``holds`` gives the truth
    and value of alerts that are not thresholds on a metric (SLO burn-rate alerts), by alert
    name; ``bands`` the truth per series of anomaly alerts (:mod:`opsbook.monitor.anomaly`).
    """
    from opsbook.monitor.slo import burn_rules

    at = now.timestamp()
    statuses: list[AlertStatus] = []
    changes: list[Transition] = []
    holds = holds or {}
    for name, alert in {**spec.alerts, **burn_rules(spec)}.items():
        base = base_labels(name, alert)
        seen: set[str] = set()
        truths: list[tuple[dict[str, str], bool | None, float | None]] = []
        if name in holds:
            reading = Reading(name, [Sample({}, holds[name][1])])
            truths.append((base, holds[name][0], holds[name][1]))
        elif alert.anomaly is not None:
            found = (bands or {}).get(name, [])
            reading = Reading(name, [Sample(labels, value) for labels, _, value in found])
            truths += [({**base, **labels}, truth, value) for labels, truth, value in found]
            alert = _anomaly_rule(spec, alert)
        else:
            reading = readings.get(alert.metric) or Reading(alert.metric, [], "not read")
            truths += _threshold_truths(alert, base, reading)
        if not truths and not any(k[0] == name for k in previous):
            truths.append((base, None, None))  # nothing stored, no data: report nodata
        for labels, truth, value in truths:
            fp = fingerprint(labels)
            seen.add(fp)
            prev = previous.get((name, fp))
            statuses.append(_advance(spec, name, alert, labels, prev, truth, value, at, changes))
        for (alert_name, fp), prev in previous.items():
            if alert_name != name or fp in seen or prev.origin != "rule":
                continue
            # A label set that no longer shows up: false when others did, no data otherwise.
            truth = None if not reading.samples else False
            statuses.append(
                _advance(spec, name, alert, prev.labels, prev, truth, None, at, changes)
            )
    return statuses, changes


def base_labels(name: str, alert: Alert) -> dict[str, str]:
    """The labels every instance of an alert has; a series adds its own."""
    return {"alertname": name, "severity": alert.severity, **alert.labels}


def _band_edges(
    spec: Spec, bands: Mapping[str, list[Band]]
) -> dict[tuple[str, str], tuple[float, float]]:
    """(alert, fingerprint) → (low, high) of each anomaly series with a band."""
    return {
        (name, fingerprint({**base_labels(name, spec.alerts[name]), **band.labels})): (
            band.low,
            band.high,
        )
        for name, found in bands.items()
        for band in found
        if band.low is not None and band.high is not None
    }


def _threshold_truths(
    alert: Alert, base: dict[str, str], reading: Reading
) -> list[tuple[dict[str, str], bool | None, float | None]]:
    condition = alert.condition
    out: list[tuple[dict[str, str], bool | None, float | None]] = []
    for sample in reading.samples:
        labels = {**base, **sample.labels}
        if sample.value is None or condition is None:
            out.append((labels, None, sample.value))
        else:
            out.append((labels, condition.holds(sample.value), sample.value))
    return out


def _anomaly_rule(spec: Spec, alert: Alert) -> Alert:
    """An anomaly alert without its own ``for`` waits for the anomaly's ``for``."""
    anomaly = spec.metrics[alert.metric].anomaly
    if alert.for_ or anomaly is None or not anomaly.for_:
        return alert
    return alert.model_copy(update={"for_": anomaly.for_})


def _advance(
    spec: Spec,
    name: str,
    alert: Alert,
    labels: dict[str, str],
    prev: AlertStatus | None,
    truth: bool | None,
    value: float | None,
    at: float,
    changes: list[Transition],
) -> AlertStatus:
    before = prev.instance if prev is not None else Instance()
    after = step(before, truth, value, rule_of(alert), at)
    event = transition(before, after)
    annotations = _annotations(alert, after.value if after.value is not None else before.value)
    status = AlertStatus(name, labels, annotations, after)
    if event is not None:
        changes.append(
            Transition(
                alert=name,
                event=event,
                at=at,
                labels=labels,
                annotations=annotations,
                fingerprint=fingerprint(labels),
                value=value,
                severity=alert.severity,
                group_key=group_key_of(spec, labels),
            )
        )
    return status


def group_key_of(spec: Spec, labels: Mapping[str, str]) -> str:
    """The group key the root route puts these labels under (``{}:{alertname="x"}``)."""
    group_by = ["alertname"]
    if spec.notify is not None and spec.notify.route is not None:
        group_by = spec.notify.route.group_by or group_by
    from opsbook.notify.routing import group_key

    return group_key("{}", group_by, labels)


def read_readings(
    loaded: LoadedSpec, now: datetime, environment: str | None = None
) -> dict[str, Reading]:
    """Every metric at ``now`` (what ``monitor eval`` prints)."""
    ctx = source_context(loaded, environment)
    series = read_series(ctx, list(loaded.spec.metrics), [now])
    return {name: series[name][0] for name in loaded.spec.metrics}


def evaluate(
    store: Store,
    loaded: LoadedSpec,
    now: datetime,
    *,
    environment: str | None = None,
    readings: Mapping[str, Reading] | None = None,
    steps_cache: StepsCache | None = None,
) -> Evaluation:
    """Evaluate every metric and alert at ``now``, store instances and transition events, and
    run transition hooks. The stored state makes successive calls (in any process) continue one
    another: a restart between evaluations changes nothing. ``steps_cache`` keeps the SLOs'
    completed steps between the calls of one process (``watch``)."""
    from opsbook.monitor import slo as slos

    if readings is None:
        readings = read_readings(loaded, now, environment)
    project = loaded.spec.project
    previous = load_statuses(store, project)
    holds = slos.slo_holds(store, loaded, readings, now, environment, steps_cache)
    bands: dict[str, list[Band]] = {}
    if any(m.anomaly is not None for m in loaded.spec.metrics.values()):
        ctx = source_context(loaded, environment)
        bands = Baselines(ctx, loaded.spec, [now]).bands(readings, now)
    truths = truths_of(bands)
    statuses, changes = step_alerts(loaded.spec, readings, previous, now, holds, truths)
    edges = _band_edges(loaded.spec, bands)
    for status in statuses:
        status.band = edges.get((status.alert, status.fingerprint))
    save_statuses(store, project, statuses, changes)
    run_hooks(store, loaded, changes)
    return Evaluation(now, dict(readings), statuses, changes, bands)


def load_statuses(store: Store, project: str) -> dict[tuple[str, str], AlertStatus]:
    from opsbook.store.monitoring import alert_rows

    with store.begin() as conn:
        rows = alert_rows(conn, project)
    out = {}
    for row in rows:
        instance = Instance(
            state=AlertState(row.state),
            active_at=row.active_at,
            firing_since=row.firing_since,
            resolved_at=row.resolved_at,
            last_true_at=row.last_true_at,
            value=row.value,
            nodata=bool(row.nodata),
        )
        band = None if row.band_low is None else (row.band_low, row.band_high)
        status = AlertStatus(
            row.alert, dict(row.labels), dict(row.annotations), instance, row.origin, band
        )
        out[(row.alert, row.fingerprint)] = status
    return out


def save_statuses(
    store: Store, project: str, statuses: Iterable[AlertStatus], changes: list[Transition]
) -> None:
    from opsbook.store import events
    from opsbook.store.monitoring import save_alert

    with store.begin() as conn:
        for status in statuses:
            inst = status.instance
            save_alert(
                conn,
                {
                    "project": project,
                    "alert": status.alert,
                    "fingerprint": status.fingerprint,
                    "labels": status.labels,
                    "annotations": status.annotations,
                    "origin": status.origin,
                    "state": inst.state.value,
                    "value": inst.value,
                    "nodata": int(inst.nodata),
                    "active_at": inst.active_at,
                    "firing_since": inst.firing_since,
                    "resolved_at": inst.resolved_at,
                    "last_true_at": inst.last_true_at,
                    "evaluated_at": None,
                    "band_low": None if status.band is None else status.band[0],
                    "band_high": None if status.band is None else status.band[1],
                },
            )
        if changes:
            events.append_many(
                conn,
                [
                    events.NewEvent(c.event, ACTOR, data={"project": project, **c.to_dict()})
                    for c in changes
                ],
            )


def run_hooks(store: Store, loaded: LoadedSpec, changes: list[Transition]) -> None:
    from opsbook.monitor.hooks import hooks
    from opsbook.store import events

    for change in changes:
        for hook in hooks():
            try:
                hook(store, loaded, change)
            except Exception as err:  # a plugin's bug must not stop monitoring
                with store.begin() as conn:
                    events.append(
                        conn,
                        "alert.hook_failed",
                        actor=ACTOR,
                        data={"hook": getattr(hook, "__name__", str(hook)), "error": str(err)},
                    )
