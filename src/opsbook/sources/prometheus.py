"""``prometheus``: PromQL through the HTTP API (``/api/v1/query``, ``/api/v1/query_range``).

Works with anything that serves that API (Thanos, Mimir, VictoriaMetrics). Each series of the
result is one sample, labelled by the ``by:`` labels (all labels but ``__name__`` without ``by``).
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from datetime import datetime
from typing import TYPE_CHECKING, Any

from pydantic import Field, model_validator

from opsbook.sources.base import Sample, SourceContext, SourceError, SourceKind
from opsbook.spec.strict import Model

if TYPE_CHECKING:
    from opsbook.monitor.config import Metric


class PrometheusConfig(Model):
    """``prometheus: URL`` or ``prometheus: {url: URL, headers: {...}}``."""

    url: str
    headers: dict[str, str] = Field(default_factory=dict)

    @model_validator(mode="before")
    @classmethod
    def _short(cls, value: Any) -> Any:
        return {"url": value} if isinstance(value, str) else value


class PrometheusSource(SourceKind):
    name = "prometheus"
    config_type = PrometheusConfig
    metric_fields = ("promql", "by")
    required_fields = ("promql",)

    def templates(self, config: Any) -> Iterable[str]:
        yield config.url
        yield from config.headers.values()

    def read(self, ctx: SourceContext, config: Any, metric: Metric, now: datetime) -> list[Sample]:
        data = _get(ctx, config, "query", {"query": metric.promql, "time": now.timestamp()})
        result = data.get("result")
        if data.get("resultType") == "scalar" and isinstance(result, list):
            return [Sample({}, _number(result[1]))]
        if not isinstance(result, list):
            raise SourceError("Prometheus answered without a result list")
        return [
            Sample(_labels(metric, s.get("metric", {})), _number(s["value"][1])) for s in result
        ]

    def series(
        self,
        ctx: SourceContext,
        config: Any,
        metrics: dict[str, Metric],
        times: list[datetime],
    ) -> dict[str, list[list[Sample]] | SourceError] | None:
        if len(times) < 2:
            return None
        step = (times[1] - times[0]).total_seconds()
        out: dict[str, list[list[Sample]] | SourceError] = {}
        for name, metric in metrics.items():
            params = {
                "query": metric.promql,
                "start": times[0].timestamp(),
                "end": times[-1].timestamp(),
                "step": step,
            }
            data = _get(ctx, config, "query_range", params)
            at: dict[float, list[Sample]] = {}
            for series in data.get("result") or []:
                labels = _labels(metric, series.get("metric", {}))
                for when, value in series.get("values", []):
                    at.setdefault(round(float(when), 3), []).append(Sample(labels, _number(value)))
            out[name] = [at.get(round(t.timestamp(), 3), []) for t in times]
        return out


def _get(ctx: SourceContext, config: Any, endpoint: str, params: dict[str, Any]) -> Any:
    import httpx

    base = ctx.render(config.url).rstrip("/")
    headers = {k: ctx.render(v) for k, v in config.headers.items()}
    try:
        response = httpx.get(
            f"{base}/api/v1/{endpoint}", params=params, headers=headers, timeout=ctx.timeout
        )
    except httpx.HTTPError as err:
        raise SourceError(f"Prometheus unreachable: {type(err).__name__}") from None
    try:
        body = response.json()
    except ValueError:
        raise SourceError(f"Prometheus answered HTTP {response.status_code}, not JSON") from None
    if body.get("status") != "success":
        raise SourceError(f"Prometheus: {body.get('errorType', '')}: {body.get('error', '')}")
    return body.get("data", {})


def _labels(metric: Metric, labels: dict[str, str]) -> dict[str, str]:
    if metric.by:
        return {b: labels.get(b, "") for b in metric.by}
    return {k: v for k, v in labels.items() if k != "__name__"}


def _number(text: Any) -> float | None:
    value = float(text)
    return None if math.isnan(value) else value
