"""``check all``: every pre-flight check of one environment, together.

Runs ``env`` for the environment; ``env-diff`` against every other environment, keeping only
``shared_secret`` findings (the other categories are expected between environments and are
shown by ``check env-diff``); ``dotenv-example`` when ``.env.example`` exists; and ``secrets``
on the project root.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from opsbook.checks.contract import check_env
from opsbook.checks.dotenv_example import check_dotenv_example, example_path
from opsbook.checks.envdiff import diff_envs
from opsbook.checks.findings import SEVERITIES, Report
from opsbook.checks.secrets import scan_secrets
from opsbook.spec.loader import LoadedSpec


@dataclass
class AllReport(Report):
    """The reports of every check that ran."""

    environment: str = ""
    reports: list[Report] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return all(r.ok for r in self.reports)

    def counts(self) -> dict[str, int]:
        return {s: sum(r.counts()[s] for r in self.reports) for s in SEVERITIES}

    def details(self) -> dict[str, Any]:
        return {"environment": self.environment, "checks": [r.to_dict() for r in self.reports]}


def check_all(
    loaded: LoadedSpec, env_name: str, process_env: Mapping[str, str] | None = None
) -> AllReport:
    """Run every check for environment ``env_name``; UsageError for an unknown environment."""
    report = AllReport("all", environment=env_name)
    report.reports.append(check_env(loaded, env_name, process_env))
    for other in loaded.spec.environments:
        if other != env_name:
            diff = diff_envs(loaded, env_name, other)
            diff.findings = [f for f in diff.findings if f.code == "shared_secret"]
            report.reports.append(diff)
    if example_path(loaded, None).is_file():
        report.reports.append(check_dotenv_example(loaded))
    report.reports.append(scan_secrets(loaded))
    return report
