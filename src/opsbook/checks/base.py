"""The check-type extension point: one base class with one method to implement, ``run``.

A check type owns one key of a named check in opsbook.yaml (``http``, ``sql``, ``tcp``,
``command``, ``env`` or a plugin's). It declares a pydantic model for its keys
(``config_type``); opsbook validates a check against the model of the type whose key it holds,
renders its ``${{ }}`` templates, and awaits ``run``, which returns a :class:`CheckResult`: the
shared :class:`~opsbook.checks.findings.Report` (findings; an ``error`` fails the check) plus
what a monitor can sample (``value``) and a one-line ``summary``.

    class DiskFree(CheckType):
        name = "disk"
        config_type = DiskConfig          # class DiskConfig(CheckConfig): disk: str; min_gib: float

        async def run(self, ctx, config):
            free = shutil.disk_usage(ctx.root / config.disk).free / 2**30
            result = CheckResult(ctx.name, value=free, summary=f"{free:.1f} GiB free")
            if free < config.min_gib:
                result.fail("disk_low", f"{free:.1f} GiB free, expected at least {config.min_gib}")
            return result

Types are registered under the entry-point group ``opsbook.checks`` (built-ins exactly like
plugins). ``run`` is a coroutine so that a batch of checks runs concurrently; blocking work
belongs in ``await asyncio.to_thread(...)``.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

from pydantic import BaseModel, ConfigDict

from opsbook.checks.findings import Report

if TYPE_CHECKING:
    import httpx

    from opsbook.spec.loader import LoadedSpec
    from opsbook.spec.models import Spec


class CheckConfig(BaseModel):
    """Base of every check type's configuration: the keys of a check besides the common ones
    (``description``, ``timeout``). Unknown keys are errors."""

    model_config = ConfigDict(extra="forbid", populate_by_name=True)


@dataclass
class CheckResult(Report):
    """How one check went. ``ok`` when no finding is an error."""

    type: str = ""
    value: float | None = None
    """A number the check measured (an SQL value, a command's number), for metrics."""
    summary: str = ""
    """One line: ``HTTP 200``, ``exit 0``, ``3 rows``, ``connected``."""
    elapsed: float = 0.0
    """Seconds the check took (filled in by the runner)."""

    def fail(self, code: str, message: str) -> None:
        """Add an error finding: the check fails with this message."""
        self.add("error", code, None, message)

    @property
    def problems(self) -> list[str]:
        """The messages of the error findings."""
        return [f.message for f in self.findings if f.severity == "error"]

    def details(self) -> dict[str, Any]:
        return {
            "type": self.type,
            "value": self.value,
            "summary": self.summary,
            "elapsed": round(self.elapsed, 6),
        }


@dataclass
class CheckContext:
    """What a check type may use while it runs. Built by the runner for each check."""

    name: str
    """The check's name under ``checks:`` (or a built-in's, such as ``env``)."""
    root: Path
    """The directory holding opsbook.yaml."""
    env: Mapping[str, str]
    """The environment a subprocess gets (the process's, the env file's, the vars)."""
    render: Callable[[str], str]
    """Render ``${{ }}`` templates (the configuration arrives rendered already)."""
    timeout: float
    """Seconds the check may take (its ``timeout``, capped by the step's)."""
    environment: str = ""
    loaded: LoadedSpec | None = None
    shared: SharedResources | None = None

    @property
    def spec(self) -> Spec | None:
        return self.loaded.spec if self.loaded is not None else None

    async def http_client(self) -> httpx.AsyncClient:
        """The batch's HTTP client (one per batch, so connections are shared and closed)."""
        if self.shared is None:
            self.shared = SharedResources(1)
        return await self.shared.http_client()


class SharedResources:
    """Resources one batch of checks shares; closed by the runner when the batch ends."""

    def __init__(self, size: int) -> None:
        self.size = max(size, 1)
        self._http: httpx.AsyncClient | None = None

    async def http_client(self) -> httpx.AsyncClient:
        if self._http is None:
            from opsbook.checks.httpclient import make_client

            self._http = make_client(self.size)
        return self._http

    async def aclose(self) -> None:
        if self._http is not None:
            await self._http.aclose()


class CheckType(ABC):
    """Base class of every check type. Set ``name`` and ``config_type``; implement ``run``."""

    name: ClassVar[str]
    """The key that selects this type in a check (``http: URL``)."""
    config_type: ClassVar[type[CheckConfig]]
    """The pydantic model of the check's keys (besides ``description`` and ``timeout``)."""

    def validate(self, config: Any, spec: Spec) -> list[str]:
        """Problems a model cannot express, each 'what is wrong; the fix' (optional)."""
        return []

    def templates(self, config: Any) -> Iterator[tuple[tuple[str | int, ...], str]]:
        """Every string of the configuration with its location; each may hold ``${{ }}``."""
        yield from _strings(config.model_dump(by_alias=True, exclude_none=True))

    def render(self, config: Any, render: Callable[[str], str]) -> Any:
        """The configuration with every template rendered (before ``run``)."""
        data = config.model_dump(by_alias=True, exclude_unset=True)
        return type(config).model_validate(_render(data, render))

    @abstractmethod
    async def run(self, ctx: CheckContext, config: Any) -> CheckResult:
        """Check once and say how it went (never raise for a failed check: add a finding)."""


def _strings(
    value: Any, loc: tuple[str | int, ...] = ()
) -> Iterator[tuple[tuple[str | int, ...], str]]:
    if isinstance(value, str):
        yield loc, value
    elif isinstance(value, dict):
        for key, item in value.items():
            yield from _strings(item, (*loc, str(key)))
    elif isinstance(value, list | tuple):
        for index, item in enumerate(value):
            yield from _strings(item, (*loc, index))


def _render(value: Any, render: Callable[[str], str]) -> Any:
    if isinstance(value, str):
        return render(value) if "${{" in value else value
    if isinstance(value, dict):
        return {key: _render(item, render) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [_render(item, render) for item in value]
    return value
