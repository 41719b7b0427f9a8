"""What every route needs: the store, where opsbook.yaml is, whether we serve TLS, and the
clock of operations (``serve --now``)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING

from starlette.requests import Request

from opsbook.store import Store

if TYPE_CHECKING:
    from opsbook.web.feed import EventHub


@dataclass
class ServeContext:
    store: Store
    spec_file: Path | None = None  # None: found from the working directory
    secure: bool = False  # served over TLS: cookies get Secure
    hub: EventHub | None = field(default=None, repr=False)
    login_failures: dict[str, list[float]] = field(default_factory=dict, repr=False)
    offset: timedelta = timedelta(0)
    """How far ``serve --now`` moved the clock of alerts, SLOs, incidents and on-call."""

    def now(self) -> datetime:
        """The instant operations see: the real time, moved by ``offset``. Runs, leases,
        sessions and tokens keep the real clock."""
        from opsbook.clock import utcnow

        return utcnow() + self.offset


def ctx(request: Request) -> ServeContext:
    found: ServeContext = request.app.state.ctx
    return found
