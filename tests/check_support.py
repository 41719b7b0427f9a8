"""Running check types in the test process, as the ``check`` step does (no store, no run)."""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path

from opsbook.checks.base import CheckResult
from opsbook.checks.runner import run_checks
from opsbook.spec.models import Check


def run_named(
    checks: Sequence[tuple[str, Check]], *, root: Path | None = None, cap: float | None = None
) -> list[CheckResult]:
    """Run checks with their templates left as written, in ``root`` (default: here)."""
    return run_checks(
        checks,
        root=root or Path.cwd(),
        env=dict(os.environ),
        render=lambda text: text,
        cap=cap,
    )
