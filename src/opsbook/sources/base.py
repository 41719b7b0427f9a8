"""The source-kind extension point: one base class with one method to implement, ``read``.

A kind declares the type of its configuration (the value under its key in ``sources:``) and
reads one metric at an instant. Built-in kinds (logs, sql, prometheus, check, command) register
through the ``opsbook.sources`` entry-point group exactly as a plugin's would::

    class Constant(SourceKind):
        name = "constant"
        config_type = float

        def read(self, ctx, config, metric, now):
            return [Sample({}, config)]
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

if TYPE_CHECKING:
    from opsbook.monitor.config import Metric
    from opsbook.spec.models import Spec


@dataclass(frozen=True)
class Sample:
    """One value of a metric; ``labels`` are the ``by:`` values (empty without ``by``)."""

    labels: dict[str, str]
    value: float | None

    @property
    def key(self) -> tuple[tuple[str, str], ...]:
        return tuple(sorted(self.labels.items()))


class SourceError(Exception):
    """A source could not answer (unreachable, bad query): the metric has no data this time."""


@dataclass
class SourceContext:
    """What a source kind may use while it reads."""

    spec: Spec
    root: Path
    """The directory holding opsbook.yaml; relative paths are resolved against it."""
    render: Callable[[str], str] = field(default=lambda text: text)
    """Render ``${{ }}`` templates (env, vars) of the configuration."""
    timeout: float = 10.0
    cache: dict[Any, Any] = field(default_factory=dict)
    """Per-process state a kind may keep between reads (e.g. a log tail's offsets)."""


class SourceKind(ABC):
    """Base class of every source kind."""

    name: ClassVar[str]
    config_type: ClassVar[Any] = str
    metric_fields: ClassVar[tuple[str, ...]] = ()
    """Fields of a metric this kind reads (``value`` for logs, ``query`` for sql...)."""
    required_fields: ClassVar[tuple[str, ...]] = ()

    def templates(self, config: Any) -> Iterable[str]:
        """Strings of the configuration that may hold ``${{ }}``."""
        if isinstance(config, str):
            yield config

    def validate_metric(self, config: Any, metric: Metric) -> list[str]:
        """Problems with a metric that reads from a source of this kind."""
        return []

    @abstractmethod
    def read(self, ctx: SourceContext, config: Any, metric: Metric, now: datetime) -> list[Sample]:
        """The metric's value(s) at ``now``; raise SourceError when the source cannot answer."""

    def series(
        self,
        ctx: SourceContext,
        config: Any,
        metrics: dict[str, Metric],
        times: list[datetime],
    ) -> dict[str, list[list[Sample]] | SourceError] | None:
        """Several metrics at many instants at once (replays), each a list of samples per
        instant (or the SourceError that metric met); None lets the caller read each instant
        with ``read``."""
        return None
