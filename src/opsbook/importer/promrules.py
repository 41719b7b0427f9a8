"""Prometheus rule files (``groups[].rules[]``) → promql ``metrics`` and ``alerts``.

An alerting rule whose expression is ``QUERY OP NUMBER`` becomes the metric ``QUERY`` and
``when: NAME OP NUMBER``; any other expression becomes a metric that is 1 for each series the
expression returns, and ``when: NAME == 1``. Either way one alert instance per series, and no
series means not firing (``on_nodata: ok``), as in Prometheus. Recording rules become metrics
(``job:errors:rate5m`` as ``job_errors_rate5m``), and each is listed in the report.
"""

from __future__ import annotations

import re
from typing import Any

from opsbook.importer.monitordraft import Node, SpecDraft, check_promql, duration, identifier

_FLIP = {">": "<", "<": ">", ">=": "<=", "<=": ">=", "==": "==", "!=": "!="}
_TAIL = re.compile(r"^\s*(.+?)\s*(?:>=|<=|==|!=|>|<)\s*[-+]?[\d.]+(?:e[-+]?\d+)?\s*$", re.S)
_VALUE = re.compile(r"\{\{\s*\$value\s*\}\}")


def build(docs: list[Node], draft: SpecDraft) -> None:
    draft.project = "prometheus-rules"
    for doc in docs:
        groups = doc.items("groups", required=True)
        for group in groups:
            group.text("name", required=True)
            if group.get("interval") is not None:
                draft.note(
                    group.need("interval").line,
                    str(group.need("interval").value),
                    "group interval: opsbook evaluates at its own interval",
                )
            for rule in group.items("rules", required=True):
                _rule(rule, draft)


def _rule(rule: Node, draft: SpecDraft) -> None:
    expr_node = rule.need("expr")
    expr = (rule.text("expr", required=True) or "").strip()
    check_promql(expr_node, expr)
    if rule.get("record") is not None:
        record = rule.need("record")
        name = str(record.value).replace(":", "_")
        record = Node(record.doc, record.loc, name)
        key = draft.add("metrics", identifier(record, "recording rule"), _metric(expr), rule.line)
        draft.note(rule.line, f"record {rule.text('record')}", f"recording rule → metric {key}")
        return
    if rule.get("alert") is None:
        rule.fail("a rule needs alert: NAME or record: NAME")
    name = identifier(rule.need("alert"), "alert name")
    query, op, number = _split(expr)
    metric = draft.add("metrics", name, _metric(query), expr_node.line)
    item: dict[str, Any] = {"when": f"{metric} {op} {_number(number)}", "on_nodata": "ok"}
    for key in ("for", "keep_firing_for"):
        if rule.get(key) is not None:
            item[key] = duration(rule.need(key))
    labels = rule.strings("labels")
    if "severity" in labels:
        item["severity"] = labels.pop("severity")
    item.update(_annotations(rule, name, draft))
    if labels:
        item["labels"] = labels
    draft.add("alerts", name, item, rule.line)


def _metric(query: str) -> dict[str, Any]:
    return {"from": "prometheus", "promql": query}


def _split(expr: str) -> tuple[str, str, float]:
    """(query, op, number) of ``QUERY OP NUMBER``; else a query that is 1 per returned series."""
    import promql_parser as pp

    tree = pp.parse(expr)
    while isinstance(tree, pp.ParenExpr):
        tree = tree.expr
    if isinstance(tree, pp.BinaryExpr) and str(tree.op) in _FLIP:
        bool_mod = tree.modifier is not None and tree.modifier.return_bool
        if not bool_mod and isinstance(tree.rhs, pp.NumberLiteral):
            return _as_written(expr, str(tree.lhs)), str(tree.op), float(tree.rhs.val)
        if not bool_mod and isinstance(tree.lhs, pp.NumberLiteral):
            return str(tree.rhs), _FLIP[str(tree.op)], float(tree.lhs.val)
    return f"({expr}) * 0 + 1", "==", 1.0


def _as_written(expr: str, parsed: str) -> str:
    """The query as the file wrote it (not the parser's spelling) when it can be cut out."""
    import promql_parser as pp

    match = _TAIL.match(expr)
    if match and str(pp.parse(match.group(1))) == parsed:
        return match.group(1)
    return parsed


def _number(value: float) -> str:
    return str(int(value)) if value.is_integer() else repr(value)


def _annotations(rule: Node, name: str, draft: SpecDraft) -> dict[str, str]:
    notes = rule.strings("annotations")
    out: dict[str, str] = {}
    for key in ("summary", "description"):
        if key in notes:
            out[key] = _VALUE.sub("{{ value }}", notes.pop(key))
    url = notes.pop("runbook_url", None)
    if url:
        out["description"] = (out.get("description", "") + f" Runbook: {url}").strip()
    for key in notes:
        draft.note(
            rule.line, f"{name}: {key}", "annotation not kept (opsbook has summary, description)"
        )
    if any("{{" in v and "$labels" in v for v in out.values()):
        draft.note(rule.line, name, "{{ $labels.X }} is not filled in by opsbook's summaries")
    return out
