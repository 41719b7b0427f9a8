"""What every route needs: the store, where opsbook.yaml is, and whether we serve TLS."""

from __future__ import annotations

from dataclasses import dataclass, field
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


def ctx(request: Request) -> ServeContext:
    found: ServeContext = request.app.state.ctx
    return found
