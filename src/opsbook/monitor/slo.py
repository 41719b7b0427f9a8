"""SLOs: error budgets and multi-window multi-burn-rate alerts (filled in by slo evaluation)."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from opsbook.monitor.metrics import Reading
    from opsbook.spec.loader import LoadedSpec
    from opsbook.store import Store


def slo_holds(
    store: Store | None,
    loaded: LoadedSpec,
    readings: Mapping[str, Reading],
    now: datetime,
    environment: str | None = None,
) -> dict[str, dict[str, bool | None]] | None:
    """Truth of SLO burn-rate alerts at ``now`` by alert name and fingerprint (none yet)."""
    return None


def burn_alert_names(spec: object) -> list[str]:
    """Names of the burn-rate alerts every SLO adds (``NAME:page``, ``NAME:ticket``)."""
    slos = getattr(spec, "slos", {}) or {}
    return [f"{name}:{kind}" for name in slos for kind in ("page", "ticket")]


def burn_alert_holds(
    loaded: LoadedSpec,
    name: str,
    now: datetime,
    *,
    store: Store | None = None,
    environment: str | None = None,
) -> bool | None:
    """Whether an SLO's burn-rate alert holds at ``now``."""
    return None
