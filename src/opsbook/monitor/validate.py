"""Semantic rules of ``sources``, ``metrics``, ``alerts``, ``slos`` and ``notify``.

Each problem names the offending location (so ``opsbook validate`` prints ``opsbook.yaml:LINE:``)
and the fix: an unknown metric in ``when:``, a source kind nobody registered, a receiver a route
names but nobody declared...
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable, Iterator
from typing import TYPE_CHECKING

from opsbook.sources.config import COMMON_SOURCE_FIELDS
from opsbook.sources.registry import get_source_kind, source_kind_names
from opsbook.spec.kindconfig import validate_kind_config

if TYPE_CHECKING:
    from opsbook.notify.config import Route
    from opsbook.spec.loader import Loc
    from opsbook.spec.models import Spec

METRIC_READS = ("value", "where", "over", "by", "query", "promql")
NO_SOURCE_KINDS = ("check", "command")


def _hint(word: str, options: Iterable[str], otherwise: str) -> str:
    close = difflib.get_close_matches(word, list(options), n=1, cutoff=0.6)
    return f"did you mean '{close[0]}'?" if close else otherwise


def operations_problems(spec: Spec) -> Iterator[tuple[Loc, str]]:
    """Every problem of the monitoring sections, as (location, message)."""
    yield from _source_problems(spec)
    yield from _metric_problems(spec)
    yield from _alert_problems(spec)
    yield from _slo_problems(spec)
    yield from _notify_problems(spec)


def _source_problems(spec: Spec) -> Iterator[tuple[Loc, str]]:
    if not spec.sources:
        return  # the source kinds (and the libraries they import) load only when needed
    kinds = [k for k in source_kind_names() if k not in NO_SOURCE_KINDS]
    for name, source in spec.sources.items():
        loc: Loc = ("sources", name)
        keys = list(source.model_extra or {})
        known = [k for k in keys if k in kinds]
        for key in keys:
            if key not in known:
                hint = _hint(key, [*kinds, *COMMON_SOURCE_FIELDS], "kinds: " + ", ".join(kinds))
                yield (*loc, key), f"unknown key '{key}'; {hint}"
        if len(known) != 1:
            if not keys or known:
                yield loc, "a source has exactly one kind: " + ", ".join(kinds)
            continue
        kind = get_source_kind(known[0])
        config, errors = validate_kind_config(
            kind.config_type, (source.model_extra or {})[known[0]]
        )
        for sub, message in errors:
            yield (*loc, known[0], *sub), message
        if not errors:
            source.bind(known[0], config)


def _metric_problems(spec: Spec) -> Iterator[tuple[Loc, str]]:
    for name, metric in spec.metrics.items():
        loc: Loc = ("metrics", name)
        if metric.check is not None and metric.check not in spec.checks:
            hint = _hint(metric.check, spec.checks, "define it under checks:")
            yield (*loc, "check"), f"unknown check '{metric.check}'; {hint}"
        if metric.from_ is None:
            used = [f for f in METRIC_READS if getattr(metric, f) not in (None, [])]
            for field in used:
                yield (*loc, field), f"'{field}' needs a source; add from: SOURCE or remove it"
            continue
        source = spec.sources.get(metric.from_)
        if source is None:
            hint = _hint(metric.from_, spec.sources, "declare it under sources:")
            yield (*loc, "from"), f"unknown source '{metric.from_}'; {hint}"
            continue
        if not source.kind:
            continue  # the source itself is reported
        kind = get_source_kind(source.kind)
        for field in METRIC_READS:
            if getattr(metric, field) not in (None, []) and field not in kind.metric_fields:
                yield (
                    (*loc, field),
                    f"a {kind.name} metric has no '{field}'; it reads "
                    + ", ".join(kind.metric_fields),
                )
        for field in kind.required_fields:
            if getattr(metric, field) is None:
                yield loc, f"a {kind.name} metric needs '{field}'; add it"


def _alert_problems(spec: Spec) -> Iterator[tuple[Loc, str]]:
    for name, alert in spec.alerts.items():
        loc: Loc = ("alerts", name)
        field = "when" if alert.when else "anomaly"
        metric = alert.metric
        if metric not in spec.metrics:
            hint = _hint(metric, spec.metrics, "define it under metrics:")
            yield (*loc, field), f"unknown metric '{metric}'; {hint}"
        elif alert.anomaly and spec.metrics[metric].anomaly is None:
            yield (*loc, field), f"metric '{metric}' has no anomaly: baseline; add one to it"
        if alert.runbook is not None and alert.runbook not in spec.runbooks:
            hint = _hint(alert.runbook, spec.runbooks, "define it under runbooks:")
            yield (*loc, "runbook"), f"unknown runbook '{alert.runbook}'; {hint}"


def _slo_problems(spec: Spec) -> Iterator[tuple[Loc, str]]:
    calendars = getattr(spec, "calendars", None) or {}
    for name, slo in spec.slos.items():
        loc: Loc = ("slos", name)
        names = (
            [("sli", slo.sli)]
            if isinstance(slo.sli, str)
            else [
                (f"sli.{k}", getattr(slo.sli, k))
                for k in ("good", "bad", "total")
                if getattr(slo.sli, k) is not None
            ]
        )
        for where, metric in names:
            if metric not in spec.metrics:
                hint = _hint(metric, spec.metrics, "define it under metrics:")
                yield (*loc, *where.split(".")), f"unknown metric '{metric}'; {hint}"
        if slo.calendar is not None and slo.calendar not in calendars:
            hint = _hint(slo.calendar, calendars, "define it under calendars:")
            yield (*loc, "calendar"), f"unknown calendar '{slo.calendar}'; {hint}"


def _notify_problems(spec: Spec) -> Iterator[tuple[Loc, str]]:
    notify = spec.notify
    if notify is None:
        return
    receivers = notify.receivers
    if notify.route is not None:
        if notify.route.receiver is None:
            yield ("notify", "route"), "the root route needs a receiver; add receiver: NAME"
        yield from _route_problems(notify.route, ("notify", "route"), list(receivers))


def _route_problems(route: Route, loc: Loc, receivers: list[str]) -> Iterator[tuple[Loc, str]]:
    if route.receiver is not None and route.receiver not in receivers:
        hint = _hint(route.receiver, receivers, "declare it under notify.receivers:")
        yield (*loc, "receiver"), f"unknown receiver '{route.receiver}'; {hint}"
    for index, child in enumerate(route.routes):
        yield from _route_problems(child, (*loc, "routes", index), receivers)
