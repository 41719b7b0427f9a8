"""Sloth SLO specs → ``metrics`` and ``slos``.

Reads the plain spec (``version: prometheus/v1``, ``service``, ``slos``) and the Kubernetes form
(``apiVersion: sloth.slok.dev/v1``, ``kind: PrometheusServiceLevel``, the same under ``spec``).
Each SLO's ``error_query``/``total_query`` (or ``raw.error_ratio_query``) become promql metrics
read over one SLO step (``{{.window}}`` is the step, 5m), and the SLO counts bad and total per
step; Sloth's page and ticket alerts are opsbook's default burn-rate alerts (Sloth's table).
"""

from __future__ import annotations

import re
from typing import Any

from opsbook.importer.draft import slug
from opsbook.importer.monitordraft import Node, SpecDraft, check_promql, identifier
from opsbook.monitor.slo import SLOTH

STEP = "5m"
"""The SLO step opsbook counts in (Slo.step's default); ``{{.window}}`` becomes this."""
_WINDOW = re.compile(r"\{\{\s*\.window\s*\}\}")


def build(docs: list[Node], draft: SpecDraft) -> None:
    for doc in docs:
        _spec(_body(doc), draft)


def _body(doc: Node) -> Node:
    """The node holding ``service`` and ``slos`` (the document, or the CRD's ``spec``)."""
    api = doc.text("apiVersion")
    if api is not None:
        if api != "sloth.slok.dev/v1" or doc.text("kind") != "PrometheusServiceLevel":
            doc.need("apiVersion").fail(
                f"'{api}' / kind '{doc.text('kind')}' is not a Sloth spec; expected "
                "apiVersion sloth.slok.dev/v1 with kind PrometheusServiceLevel"
            )
        return doc.need("spec")
    version = doc.text("version", required=True)
    if version != "prometheus/v1":
        doc.need("version").fail(
            f"version '{version}' is not supported; opsbook reads Sloth's 'prometheus/v1'"
        )
    return doc


def _spec(body: Node, draft: SpecDraft) -> None:
    service = body.text("service", required=True) or ""
    draft.project = slug(service, fallback="service")
    labels = body.get("labels")
    if labels is not None:
        draft.note(labels.line, "labels", "service labels are not kept (opsbook SLOs have none)")
    slos = body.items("slos", required=True)
    if not slos:
        body.need("slos").fail("no SLOs listed; add at least one under slos:")
    for slo in slos:
        _slo(slo, draft)


def _slo(slo: Node, draft: SpecDraft) -> None:
    name = identifier(slo.need("name"), "SLO name")
    objective = slo.number("objective", required=True) or 0.0
    if not 0 < objective < 100:
        slo.need("objective").fail(f"objective {objective} must be above 0 and below 100")
    item: dict[str, Any] = {}
    description = slo.text("description")
    if description:
        item["description"] = description
    item["sli"] = _sli(slo.need("sli"), name, draft)
    item["objective"] = objective
    item["window"] = "30d"
    item.update(_alerting(slo, draft))
    draft.add("slos", name, item, slo.line)


def _sli(sli: Node, name: str, draft: SpecDraft) -> Any:
    events, raw = sli.get("events"), sli.get("raw")
    if events is not None:
        bad = _metric(events, "error_query", f"{name}_errors", draft)
        total = _metric(events, "total_query", f"{name}_total", draft)
        return {"bad": bad, "total": total}
    if raw is not None:
        ratio = _metric(raw, "error_ratio_query", f"{name}_error_ratio", draft)
        one = draft.add(
            "metrics",
            f"{name}_steps",
            {"from": "prometheus", "promql": "vector(1)", "description": "one event per step"},
            raw.line,
        )
        draft.note(raw.line, name, "a raw error ratio counts as one event per 5m step")
        return {"bad": ratio, "total": one}
    if sli.get("plugin") is not None:
        sli.need("plugin").fail("SLI plugins are Sloth's own; write the SLI as events or raw")
    sli.fail("the SLI needs events (error_query, total_query) or raw (error_ratio_query)")


def _metric(node: Node, key: str, name: str, draft: SpecDraft) -> str:
    query_node = node.need(key)
    query = _WINDOW.sub(STEP, node.text(key, required=True) or "").strip()
    check_promql(query_node, query)
    item = {"from": "prometheus", "promql": query}
    return draft.add("metrics", name, item, query_node.line)


def _alerting(slo: Node, draft: SpecDraft) -> dict[str, Any]:
    """Severities of Sloth's page and ticket alerts, and which of them are disabled."""
    alerting = slo.get("alerting")
    if alerting is None:
        return {}
    out: dict[str, Any] = {}
    severity: dict[str, str] = {"page": "critical", "ticket": "warning"}
    kept = {"page", "ticket"}
    for kind in ("page", "ticket"):
        node = alerting.get(f"{kind}_alert")
        if node is None:
            continue
        if node.get("disable") is not None and node.need("disable").value is True:
            kept.discard(kind)
        found = node.strings("labels").get("severity")
        if found:
            severity[kind] = found
    if severity != {"page": "critical", "ticket": "warning"}:
        out["severity"] = severity
    if kept != {"page", "ticket"}:
        out["alerts"] = [
            {"long": _d(long), "short": _d(short), "factor": factor, "severity": sev}
            for long, short, factor, sev in SLOTH
            if sev in kept
        ]
    if alerting.text("name"):
        draft.note(
            alerting.line,
            str(alerting.text("name")),
            "the alert name: opsbook names the burn-rate alerts SLO:page and SLO:ticket",
        )
    return out


def _d(seconds: float) -> str:
    return f"{int(seconds // 3600)}h" if seconds >= 3600 else f"{int(seconds // 60)}m"
