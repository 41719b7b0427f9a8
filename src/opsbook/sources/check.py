"""``check: NAME``: a named check of opsbook.yaml sampled each evaluation, 1 (passed) or 0."""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Any

from opsbook.sources.base import Sample, SourceContext, SourceKind

if TYPE_CHECKING:
    from opsbook.monitor.config import Metric


class CheckSource(SourceKind):
    name = "check"
    config_type = str

    def read(self, ctx: SourceContext, config: Any, metric: Metric, now: datetime) -> list[Sample]:
        from opsbook.checks.http import HttpProbe, run_http_checks

        check = ctx.spec.checks[str(config)]
        probe = HttpProbe(
            name=str(config),
            check=check,
            url=ctx.render(check.http),
            headers={k: ctx.render(v) for k, v in check.headers.items()},
            body=ctx.render(check.body) if check.body is not None else None,
        )
        outcome = run_http_checks([probe], timeout=ctx.timeout)[0]
        return [Sample({}, 1.0 if outcome.ok else 0.0)]
