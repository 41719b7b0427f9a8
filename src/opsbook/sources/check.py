"""``check: NAME``: a named check of opsbook.yaml sampled each evaluation, 1 (passed) or 0."""

from __future__ import annotations

import os
from datetime import datetime
from typing import TYPE_CHECKING, Any

from opsbook.sources.base import Sample, SourceContext, SourceKind

if TYPE_CHECKING:
    from opsbook.monitor.config import Metric


class CheckSource(SourceKind):
    name = "check"
    config_type = str

    def read(self, ctx: SourceContext, config: Any, metric: Metric, now: datetime) -> list[Sample]:
        from opsbook.checks.runner import named_checks, run_checks

        checks = named_checks(ctx.spec, [str(config)])
        result = run_checks(checks, root=ctx.root, env=dict(os.environ), render=ctx.render)[0]
        return [Sample({}, 1.0 if result.ok else 0.0)]
