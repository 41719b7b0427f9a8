"""x-operations alert rules and SLO tables → ``metrics``, ``alerts``, ``slos`` (and ``sources``).

The x-operations entries stay as they are; what they say about watching production also becomes
something ``opsbook monitor eval`` runs. A runbook seldom says where a number comes from, so:

- a metric opsbook can guess from JSON logs (an error rate in %, a p95/p99 latency) reads the
  ``app_logs`` source (``logs/*.jsonl``: set your path), marked ``# assumed``;
- any other metric is a placeholder (``command: exit 1``: no data until you set its source),
  marked ``# placeholder`` and listed in the import report.

    error_rate > 5% (window 5m, critical)   → alerts.high_error_rate {when: error_rate > 5%}
    Alert if p95 > 2s                       → metrics.p95_ms (logs, assumed), when: p95_ms > 2000
    payment_failures > 10 in 5m             → metrics.payment_failures (placeholder)
    99.5% availability during business hours → slos (placeholder 1/0 SLI, business-hours calendar)
    No backlog > 30 min in `payments_queue`  → slos (placeholder 1/0 SLI, 99% until you set it)
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from ruamel.yaml.comments import CommentedMap

from opsbook.importer.draft import Draft

LOG_SOURCE = "app_logs"
CALENDAR = "business-hours"
PLACEHOLDER = "exit 1"
_OPS = {"rises above": ">", "exceeds": ">", "above": ">", "drops below": "<", "below": "<"}
_CONDITION = re.compile(
    r"(?P<words>[A-Za-z][\w ]*?)\s*(?P<op>>=|<=|>|<|rises above|exceeds|drops below)\s*"
    r"(?P<num>\d+(?:\.\d+)?)\s*(?P<unit>%|ms\b|seconds?\b|secs?\b|s\b|times\b)?"
    r"(?:.*?\b(?:in|over|within|per)\s+(?P<win>an? hour|\d+\s*(?:m|min|minutes?|h|hours?)\b))?",
    re.I,
)
_STOP = {"the", "a", "an", "is", "are", "if", "when", "of", "in", "at", "level", "logged"}
_ERROR_RATE = "avg(CASE WHEN level = 'error' THEN 1 ELSE 0 END)"
_BACKLOG = re.compile(
    r"backlog\s*(?:>=?|over|older than|above|exceeds?|of more than)\s*(?P<num>\d+)\s*"
    r"(?P<unit>m|mins?|minutes?|h|hours?)\b(?:.*?\bin\s+(?P<queue>[A-Za-z_][\w.]*))?",
    re.I,
)
BACKLOG_OBJECTIVE = "99%"
"""A backlog rule names a limit, not a target: 99% of steps free of backlog until set."""


@dataclass
class Condition:
    metric: str
    op: str
    threshold: str
    over: str | None
    guess: dict[str, Any] | None


def _window(text: str | None) -> str | None:
    if not text:
        return None
    text = text.lower().strip()
    if re.fullmatch(r"an? hour", text):
        return "1h"
    number, unit = re.match(r"(\d+)\s*([a-z]+)", text).groups()  # type: ignore[union-attr]
    return f"{number}{'h' if unit.startswith('h') else 'm'}"


def _name(words: str) -> str:
    words = re.split(r"\b(?:when|if)\b", words, flags=re.I)[-1]
    kept = [w for w in re.findall(r"[A-Za-z0-9_]+", words.lower()) if w not in _STOP][-4:]
    return "_".join(kept)


def parse(text: str) -> Condition | None:
    """A condition in a runbook's words, or None when it names no number.

    >>> parse("p95_latency > 3s").metric, parse("p95_latency > 3s").threshold
    ('p95_latency_ms', '3000')
    """
    clean = re.sub(r"\([^)]*\)", " ", text.replace("`", ""))
    match = _CONDITION.search(clean)
    if not match or not _name(match.group("words")):
        return None
    name = _name(match.group("words"))
    if not re.match(r"[a-z_]", name):
        name = f"m_{name}"
    op = _OPS.get(match.group("op").lower(), match.group("op"))
    number = float(match.group("num"))
    unit = (match.group("unit") or "").lower()
    if unit in ("s", "sec", "secs", "second", "seconds", "ms"):
        name = name if name.endswith("_ms") else f"{name}_ms"
        number *= 1 if unit == "ms" else 1000
    threshold = f"{number:g}%" if unit == "%" else f"{number:g}"
    return Condition(name, op, threshold, _window(match.group("win")), _guess(name, unit))


def _guess(name: str, unit: str) -> dict[str, Any] | None:
    """A JSON-log metric for the names every app has; None for the rest."""
    if "error" in name and unit == "%":
        return {"value": _ERROR_RATE}
    quantile = re.match(r"^p(50|9[059]|99)(_latency|_response_time|_duration)?_ms$", name)
    if quantile:
        return {"value": f"quantile_cont(duration_ms, 0.{quantile.group(1)})"}
    return None


class Builder:
    """Collects the sections; each item keeps the line it came from."""

    def __init__(self, draft: Draft) -> None:
        self.draft = draft
        self.metrics = CommentedMap()
        self.alerts = CommentedMap()
        self.slos = CommentedMap()
        self.calendar = False
        self.placeholders: list[str] = []

    def _origin(self, line: int) -> str:
        return f"from {self.draft.file}:{line}"

    def metric(
        self, cond: Condition, line: int, window: str | None, *, what: str | None = None
    ) -> str:
        """The metric a condition reads (``what`` it measures, for a placeholder)."""
        over = cond.over or window or "5m"
        name = cond.metric
        if name in self.metrics:
            return name
        if cond.guess is not None:
            item = CommentedMap({"from": LOG_SOURCE, "over": over, **cond.guess})
            self.metrics[name] = item
            comment = f"assumed from JSON logs ({self._origin(line)}); review"
        else:
            item = CommentedMap(
                command=PLACEHOLDER, description=f"{what or f'over {over}'}; set its source"
            )
            self.metrics[name] = item
            comment = f"placeholder: the runbook names no source ({self._origin(line)})"
            self.placeholders.append(name)
        self.metrics.yaml_add_eol_comment(comment, name)
        return name

    def alert(self, line: int, entry: Any) -> None:
        if not isinstance(entry, dict):
            return
        text = entry.get("condition") or entry.get("text") or ""
        cond = parse(str(text))
        if cond is None:
            self.draft.skip(line, str(text), "alert without a number: kept under x-operations")
            return
        window = _window(str(entry["window"])) if entry.get("window") else None
        metric = self.metric(cond, line, window)
        base = entry.get("name") or entry.get("title") or metric
        name = re.sub(r"[^a-z0-9]+", "_", str(base).lower()).strip("_") or metric
        if not re.match(r"[a-z_]", name):
            name = f"alert_{name}"
        while name in self.alerts:
            name += "_2"
        item = CommentedMap(when=f"{metric} {cond.op} {cond.threshold}")
        if entry.get("severity"):
            item["severity"] = str(entry["severity"])
        item["summary"] = f"{base}: {text}".replace("{{", "{ {")[:200]
        self.alerts[name] = item
        self.alerts.yaml_add_eol_comment(self._origin(line), name)

    def slo(self, line: int, entry: Any) -> None:
        if not isinstance(entry, dict):
            return
        area = str(entry.get("area") or entry.get("name") or entry.get("service") or "slo")
        text = " ".join(str(v) for v in entry.values())
        key = re.sub(r"[^a-z0-9]+", "-", area.lower()).strip("-") or "slo"
        made = (
            self._availability(key, text, line)
            or self._ratio(key, text, line)
            or self._backlog(key, text, line)
        )
        if not made:
            self.draft.skip(line, text, "SLO without a percentage: kept under x-operations")

    def _add_slo(self, key: str, item: CommentedMap, line: int) -> bool:
        if key in self.slos or not re.match(r"[a-z_]", key):
            key = f"slo-{key}"
        self.slos[key] = item
        self.slos.yaml_add_eol_comment(self._origin(line), key)
        return True

    def _availability(self, key: str, text: str, line: int) -> bool:
        match = re.search(r"(\d+(?:\.\d+)?)\s*%\s*(?:availability|uptime)", text, re.I)
        if not match:
            return False
        metric = self.metric(
            Condition(f"{key.replace('-', '_')}_up", ">", "0", None, None), line, None
        )
        item = CommentedMap(sli=metric, objective=f"{match.group(1)}%", window="30d")
        if re.search(r"business hours", text, re.I):
            item["calendar"] = CALENDAR
            self.calendar = True
        return self._add_slo(key, item, line)

    def _ratio(self, key: str, text: str, line: int) -> bool:
        match = re.search(
            r"<\s*(\d+(?:\.\d+)?)\s*%\s*(?P<what>[\w ]+?)\s+(?:over|per|in)\s+(?P<win>\d+\s*\w+)",
            text,
            re.I,
        )
        if not match:
            return False
        window = _window(match.group("win")) or "1h"
        if window.endswith("m") or window in ("1h",):
            window = "1h"
        elif window.endswith("h") and int(window[:-1]) % 24 == 0:
            window = f"{int(window[:-1]) // 24}d"
        stem = _name(match.group("what")) or key.replace("-", "_")
        errors = "error" in stem
        bad = Condition(
            f"{stem}_bad",
            ">",
            "0",
            "5m",
            {"value": "sum(CASE WHEN level = 'error' THEN 1 ELSE 0 END)"} if errors else None,
        )
        total = Condition(
            f"{stem}_total", ">", "0", "5m", {"value": "count(*)"} if errors else None
        )
        sli = CommentedMap(bad=self.metric(bad, line, None), total=self.metric(total, line, None))
        objective = f"{100 - float(match.group(1)):g}%"
        return self._add_slo(key, CommentedMap(sli=sli, objective=objective, window=window), line)

    def _backlog(self, key: str, text: str, line: int) -> bool:
        """ "No backlog > 30 min in `payments_queue`": a 1/0 SLI, 1 in a step where nothing in
        the queue is older than the limit."""
        match = _BACKLOG.search(text.replace("`", ""))
        if not match:
            return False
        hours = match.group("unit").lower().startswith("h")
        limit = f"{match.group('num')}{'h' if hours else 'm'}"
        queue = (match.group("queue") or key)[:60]  # a name, not a paragraph
        stem = re.sub(r"[^a-z0-9]+", "_", queue.lower()).strip("_") or "queue"
        what = f"1 when nothing in {queue} is older than {limit}, else 0"
        cond = Condition(f"{stem}_backlog_ok", ">", "0", None, None)
        item = CommentedMap(
            sli=self.metric(cond, line, None, what=what), objective=BACKLOG_OBJECTIVE, window="7d"
        )
        item.yaml_add_eol_comment("the runbook names no target: set yours", "objective")
        return self._add_slo(key, item, line)


def sections(draft: Draft, calendars: CommentedMap | None) -> CommentedMap:
    """``sources``/``metrics``/``alerts``/``slos`` (and a business-hours calendar if needed)."""
    build = Builder(draft)
    for line, entry in draft.operations.get("alerts", []):
        build.alert(line, entry)
    for line, entry in draft.operations.get("slos", []):
        build.slo(line, entry)
    out = CommentedMap()
    if not build.metrics:
        return out
    if any(m.get("from") == LOG_SOURCE for m in build.metrics.values()):
        out["sources"] = CommentedMap({LOG_SOURCE: CommentedMap(logs="logs/*.jsonl")})
        out["sources"][LOG_SOURCE].yaml_add_eol_comment(
            "assumed: where your app writes JSON logs", "logs"
        )
    out["metrics"] = build.metrics
    if build.alerts:
        out["alerts"] = build.alerts
    if build.slos:
        out["slos"] = build.slos
    if build.calendar and (calendars is None or CALENDAR not in calendars):
        calendar = CommentedMap(timezone="UTC", hours="09:00-17:00")
        calendar.yaml_add_eol_comment("the runbook names no time zone: set yours", "timezone")
        out["calendars"] = CommentedMap({CALENDAR: calendar})
    draft.placeholders = build.placeholders
    return out
