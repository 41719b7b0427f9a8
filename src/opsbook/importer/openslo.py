"""OpenSLO v1 → ``metrics`` and ``slos``.

A file holds one or more documents (``---``): ``kind: SLO`` (its SLI inline as ``indicator``,
by ``indicatorRef`` to a ``kind: SLI`` document, or per objective), ``kind: SLI`` and
``kind: DataSource`` (a Prometheus one gives the URL). A ``ratioMetric`` with Prometheus
queries becomes ``good``/``bad`` and ``total`` metrics; a ``thresholdMetric`` becomes one 1/0
metric per objective (``min((QUERY) < bool VALUE)`` for ``op: lt``), one step per time slice
with ``budgetingMethod: Timeslices``; each objective is one opsbook SLO.
Other kinds (Service, AlertPolicy, ...) and non-Prometheus sources are listed in the report.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field
from typing import Any

from opsbook.importer.draft import slug
from opsbook.importer.monitordraft import Node, SpecDraft, check_promql, identifier

STEP = "5m"
_DURATION = re.compile(r"^(\d+)([mhdwMQY])$")
_CALENDAR = {"1d": "day", "1w": "week", "1M": "month"}
_DAYS = {"d": 1, "w": 7, "M": 30, "Q": 91, "Y": 365}


@dataclass
class Objects:
    """The documents of one file by kind and name."""

    slos: list[Node] = field(default_factory=list)
    slis: dict[str, Node] = field(default_factory=dict)
    sources: dict[str, Node] = field(default_factory=dict)
    read: dict[tuple[int, int], dict[str, str]] = field(default_factory=dict)
    """Metrics already made for an indicator (shared by several objectives)."""


def build(docs: list[Node], draft: SpecDraft) -> None:
    found = Objects()
    for doc in docs:
        api = doc.text("apiVersion", required=True)
        if api != "openslo/v1":
            doc.need("apiVersion").fail(
                f"apiVersion '{api}' is not supported; opsbook reads openslo/v1"
            )
        kind = doc.text("kind", required=True)
        name = doc.need("metadata").text("name", required=True) or ""
        if kind == "SLO":
            found.slos.append(doc)
        elif kind == "SLI":
            found.slis[name] = doc.need("spec")
        elif kind == "DataSource":
            found.sources[name] = doc.need("spec")
        else:
            draft.note(
                doc.line, f"{kind} {name}", "not imported (opsbook reads SLO, SLI, DataSource)"
            )
    for source in found.sources.values():
        url = _prometheus_url(source)
        if url:
            draft.url = url
    if not found.slos:
        docs[0].fail("no 'kind: SLO' document; nothing to import")
    for slo in found.slos:
        _slo(slo, found, draft)


def _prometheus_url(source: Node) -> str | None:
    if (source.text("type") or "").lower() != "prometheus":
        return None
    details = source.get("connectionDetails")
    return details.text("url") if details is not None else None


def _slo(doc: Node, found: Objects, draft: SpecDraft) -> None:
    name = identifier(doc.need("metadata").need("name"), "SLO name")
    spec = doc.need("spec")
    if spec.text("service"):
        draft.project = slug(spec.text("service") or "", fallback="service")
    window = _window(spec, draft)
    method = spec.text("budgetingMethod") or "Occurrences"
    objectives = spec.items("objectives", required=True)
    if not objectives:
        spec.need("objectives").fail("no objectives; add one with a target")
    shared = _indicator(spec, found)
    indicators: list[Node] = []
    for objective in objectives:
        indicator = _indicator(objective, found) or shared
        if indicator is None:
            spec.fail("no indicator: add indicator, indicatorRef, or one per objective")
        indicators.append(indicator)
    # Time slices are steps of a threshold SLI; any other method or SLI counts events.
    slices = method == "Timeslices"
    if method != "Occurrences" and not (slices and all(map(_is_threshold, indicators))):
        draft.note(spec.need("budgetingMethod").line, method, "counted as Occurrences (events)")
    for index, (objective, indicator) in enumerate(zip(objectives, indicators, strict=True)):
        key = name if len(objectives) == 1 else f"{name}-{_objective_name(objective, index)}"
        if _is_threshold(indicator):
            sli: str | dict[str, str] | None = _threshold(indicator, objective, key, draft)
        else:
            mark = (id(indicator.doc), indicator.line)
            if mark not in found.read:
                found.read[mark] = _ratio(indicator, key, draft) or {}
            sli = found.read[mark] or None
        if sli is None:
            continue
        item: dict[str, Any] = {}
        if spec.text("description"):
            item["description"] = spec.text("description")
        item.update(sli=sli, objective=_target(objective), window=window)
        if slices and _is_threshold(indicator):
            item["step"] = _slice(objective)
        draft.add("slos", key, item, objective.line)


def _is_threshold(indicator: Node) -> bool:
    return indicator.get("thresholdMetric") is not None


_OPS = {"lt": "<", "lte": "<=", "gt": ">", "gte": ">="}


def _threshold(indicator: Node, objective: Node, key: str, draft: SpecDraft) -> str | None:
    """A ``thresholdMetric`` SLI: a metric that is 1 in a step where the query meets the
    objective's ``op`` and ``value`` (every series it returns), 0 where it does not."""
    op = objective.text("op", required=True) or ""
    if op not in _OPS:
        objective.need("op").fail(f"op '{op}' is not one of lt, lte, gt, gte")
    value = objective.number("value", required=True)
    if value is None or not math.isfinite(value):
        objective.need("value").fail(f"value {value} is not a finite number")
    if objective.get("timeSliceTarget") is not None:
        draft.note(
            objective.need("timeSliceTarget").line,
            key,
            "timeSliceTarget left out: a threshold SLI's slice is good when it meets op and value",
        )
    query = _query(indicator.need("thresholdMetric"), key, draft)
    if query is None:
        return None
    promql = f"min(({query}) {_OPS[op]} bool {value!r})"
    check_promql(objective.need("value"), promql)
    item = {"from": "prometheus", "promql": promql}
    return draft.add("metrics", f"{key}_good", item, indicator.need("thresholdMetric").line)


def _slice(objective: Node) -> str:
    """A time slice's length (``timeSliceWindow``, default 5m): one SLI step."""
    window = objective.get("timeSliceWindow")
    if window is None:
        return STEP
    text = str(window.value).strip()
    if not re.fullmatch(r"\d+[smh]", text) or int(text[:-1]) == 0:
        window.fail(f"timeSliceWindow {text!r} is not like 1m or 5m")
    return text


def _objective_name(objective: Node, index: int) -> str:
    text = objective.text("name") or objective.text("displayName") or f"objective-{index + 1}"
    return slug(text, fallback=f"objective-{index + 1}")


def _target(objective: Node) -> float:
    if objective.get("targetPercent") is not None:
        value = objective.number("targetPercent") or 0.0
        where = objective.need("targetPercent")
    else:
        value = (objective.number("target", required=True) or 0.0) * 100
        where = objective.need("target")
    if not 0 < value < 100:
        where.fail(f"target {where.value} is out of range: a ratio above 0 and below 1")
    return round(value, 6)


def _window(spec: Node, draft: SpecDraft) -> str:
    windows = spec.items("timeWindow")
    if not windows:
        return "30d"
    window = windows[0]
    node = window.need("duration")
    text = str(node.value).strip()
    match = _DURATION.fullmatch(text)
    if not match:
        node.fail(f"duration {text!r} is not like 28d, 1w or 1M")
    rolling = window.get("isRolling") is None or window.need("isRolling").value is not False
    if not rolling and text in _CALENDAR:
        if window.get("calendar") is not None:
            draft.note(window.line, text, "calendar windows start at 00:00 UTC in opsbook")
        return _CALENDAR[text]
    number, unit = int(match.group(1)), match.group(2)
    if unit in "mh":
        if (unit == "m" and number < 60) or number == 0:
            node.fail(f"window {text} is shorter than 1h; opsbook SLO windows are 1h or longer")
        return f"{number}{unit}"
    days = number * _DAYS[unit]
    if unit in "MQY" or not rolling:
        draft.note(node.line, text, f"counted as a rolling {days}d window")
    return f"{days}d"


def _indicator(node: Node, found: Objects) -> Node | None:
    inline = node.get("indicator")
    if inline is not None:
        return inline.need("spec")
    ref = node.get("indicatorRef")
    if ref is None:
        return None
    name = node.text("indicatorRef") or ""
    if name not in found.slis:
        known = ", ".join(found.slis) or "none in this file"
        ref.fail(f"unknown SLI '{name}' (SLIs here: {known}); add its kind: SLI document")
    return found.slis[name]


def _ratio(indicator: Node, key: str, draft: SpecDraft) -> dict[str, str] | None:
    ratio = indicator.get("ratioMetric")
    if ratio is None:
        draft.note(
            indicator.line, key, "not imported: opsbook reads ratioMetric and thresholdMetric SLIs"
        )
        return None
    counter = ratio.get("counter") is not None and ratio.need("counter").value is True
    out: dict[str, str] = {}
    for part in ("good", "bad", "total"):
        node = ratio.get(part)
        if node is None:
            continue
        query = _query(node, key, draft)
        if query is None:
            return None
        out[part] = draft.add(
            "metrics",
            f"{key}_{part}",
            {"from": "prometheus", "promql": _per_step(query, counter=counter)},
            node.line,
        )
    if "total" not in out or len(out) != 2:
        ratio.fail("a ratioMetric needs total and exactly one of good or bad")
    return out


def _query(node: Node, key: str, draft: SpecDraft) -> str | None:
    source = node.need("metricSource")
    kind = source.text("type") or "Prometheus"
    if kind.lower() != "prometheus":
        draft.note(source.line, key, f"metric source type {kind}: opsbook reads Prometheus")
        return None
    spec = source.need("spec")
    field_name = "query" if spec.get("query") is not None else "promql"
    query = spec.text(field_name, required=True) or ""
    check_promql(spec.need(field_name), query)
    return query


def _per_step(query: str, *, counter: bool) -> str:
    """A counter's query (a plain series selector) as its increase over one step."""
    import promql_parser

    if counter and isinstance(promql_parser.parse(query), promql_parser.VectorSelector):
        return f"sum(increase({query}[{STEP}]))"
    return query
