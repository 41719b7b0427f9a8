"""``command: CMD``: a shell command that prints a number on stdout (its last line).

The command gets ``OPSBOOK_NOW`` (ISO 8601) so a replay asks it about the past. A command that
fails, times out or prints no number gives no data.
"""

from __future__ import annotations

import os
import subprocess
from datetime import datetime
from typing import TYPE_CHECKING, Any

from opsbook.sources.base import Sample, SourceContext, SourceError, SourceKind

if TYPE_CHECKING:
    from opsbook.monitor.config import Metric


class CommandSource(SourceKind):
    name = "command"
    config_type = str

    def read(self, ctx: SourceContext, config: Any, metric: Metric, now: datetime) -> list[Sample]:
        env = {**os.environ, "OPSBOOK_NOW": now.isoformat()}
        try:
            done = subprocess.run(
                ["/bin/sh", "-c", ctx.render(str(config))],
                cwd=ctx.root,
                env=env,
                capture_output=True,
                timeout=ctx.timeout,
                check=False,
                stdin=subprocess.DEVNULL,
            )
        except subprocess.TimeoutExpired:
            raise SourceError(f"command timed out after {ctx.timeout:g}s") from None
        if done.returncode != 0:
            raise SourceError(f"command exited {done.returncode}")
        lines = [line.strip() for line in done.stdout.decode(errors="replace").splitlines()]
        lines = [line for line in lines if line]
        try:
            return [Sample({}, float(lines[-1]))] if lines else []
        except ValueError:
            raise SourceError(f"command printed {lines[-1][:40]!r}, not a number") from None
