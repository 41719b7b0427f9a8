"""Reading metrics: each metric's source kind asked at an instant (or at many, for replays)."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any

from opsbook.sources.base import Sample, SourceContext, SourceError, SourceKind
from opsbook.sources.registry import get_source_kind

if TYPE_CHECKING:
    from opsbook.monitor.config import Metric
    from opsbook.spec.loader import LoadedSpec
    from opsbook.spec.models import Spec


@dataclass
class Reading:
    """A metric's samples at one instant; ``error`` says why a source gave none."""

    metric: str
    samples: list[Sample] = field(default_factory=list)
    error: str | None = None

    @property
    def nodata(self) -> bool:
        return not any(s.value is not None for s in self.samples)

    @property
    def value(self) -> float | None:
        """The value of a metric without labels (the first sample's)."""
        return self.samples[0].value if self.samples else None


def source_of(spec: Spec, metric: Metric) -> tuple[SourceKind, Any, float]:
    """The kind, its configuration and the timeout a metric reads with."""
    if metric.check is not None:
        return get_source_kind("check"), metric.check, 10.0
    if metric.command is not None:
        return get_source_kind("command"), metric.command, 10.0
    source = spec.sources[str(metric.from_)]
    return get_source_kind(source.kind), source.config, source.timeout


def source_context(loaded: LoadedSpec, environment: str | None = None) -> SourceContext:
    """A context whose ``render`` fills ``${{ env.X }}`` and ``${{ vars.X }}`` from the named
    environment (the only one when the spec has one; the process environment otherwise)."""
    from opsbook.spec import expressions as ex

    spec = loaded.spec
    name = environment or (next(iter(spec.environments)) if len(spec.environments) == 1 else None)
    if name is not None:
        from opsbook.environ import resolve

        eff = resolve(loaded, name)
        values: dict[str, Any] = {"env": ex.Lenient(eff.values), "vars": ex.Lenient(eff.vars)}
    else:
        declared = {k: os.environ[k] for k in spec.env if k in os.environ}
        values = {"env": ex.Lenient(declared), "vars": ex.Lenient({})}
    values["environment"] = ex.Lenient({"name": name or ""})

    def render(text: str) -> str:
        return ex.render(text, values) if "${{" in text else text

    return SourceContext(spec=spec, root=loaded.root, render=render)


def read_metric(ctx: SourceContext, name: str, now: datetime) -> Reading:
    """One metric at ``now``; a source that cannot answer gives a Reading with ``error``."""
    metric = ctx.spec.metrics[name]
    kind, config, timeout = source_of(ctx.spec, metric)
    ctx.timeout = timeout
    try:
        return Reading(name, kind.read(ctx, config, metric, now))
    except SourceError as err:
        return Reading(name, [], str(err))


def read_series(
    ctx: SourceContext, names: list[str], times: list[datetime]
) -> dict[str, list[Reading]]:
    """Metrics at many instants; sources that can read a range at once do (one query)."""
    spec = ctx.spec
    by_source: dict[str, dict[str, Metric]] = {}
    for name in names:
        metric = spec.metrics[name]
        key = metric.from_ or f"{name}:own"
        by_source.setdefault(key, {})[name] = metric
    out: dict[str, list[Reading]] = {}
    for group in by_source.values():
        first = next(iter(group.values()))
        kind, config, timeout = source_of(spec, first)
        ctx.timeout = timeout
        try:
            bulk = kind.series(ctx, config, group, times)
        except SourceError as err:
            bulk = None
            for name in group:
                out[name] = [Reading(name, [], str(err)) for _ in times]
            continue
        if bulk is not None:
            for name, per_time in bulk.items():
                if isinstance(per_time, SourceError):
                    out[name] = [Reading(name, [], str(per_time)) for _ in times]
                else:
                    out[name] = [Reading(name, samples) for samples in per_time]
            continue
        for name in group:
            out[name] = [read_metric(ctx, name, t) for t in times]
    return out
