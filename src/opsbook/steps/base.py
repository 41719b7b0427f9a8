"""The step-kind extension point: one base class with one method to implement, ``execute``.

A kind declares the type of its configuration (the value under its key in a step), whether it
changes things (so the plan can say so and the environment is locked), and whether it is safe to
run again after a crash interrupted it. The engine builds a :class:`StepContext` and calls
``execute``; the kind returns a :class:`StepResult`.

    class Notify(StepKind):
        name = "notify"
        config_type = str
        changes_things = False

        def execute(self, ctx, config):
            ctx.log(f"would notify: {ctx.render(config)}")
            return StepResult(ok=True)
"""

from __future__ import annotations

import threading
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

if TYPE_CHECKING:
    from opsbook.spec.loader import LoadedSpec
    from opsbook.spec.models import Runbook, Spec, Step


@dataclass
class StepContext:
    """What a step kind may use while it executes. Built by the engine for each attempt."""

    run_id: str
    step: Step
    spec: Spec
    environment: str
    operator: str
    attempt: int
    root: Path
    """The directory holding opsbook.yaml; relative paths are resolved against it."""
    env: Mapping[str, str]
    """The process environment a subprocess gets: os.environ + env file + vars + step env."""
    render: Callable[[str], str]
    """Render ``${{ }}`` templates against the run's context."""
    log: Callable[[str], None]
    """Append one line of output (masked and capped by the engine)."""
    timeout: float | None = None
    cancelled: threading.Event = field(default_factory=threading.Event)
    secrets: tuple[str, ...] = ()
    """Secret values to keep out of anything the kind prints (the engine masks output too)."""
    extra: dict[str, Any] = field(default_factory=dict)
    """Engine-specific extras (e.g. where a subprocess writes outputs)."""
    output_file: Path | None = None
    """The file a subprocess names in $OPSBOOK_OUTPUT (``key=value`` lines)."""
    loaded: LoadedSpec | None = None
    """The spec the run started with (for checks that read the env contract)."""
    decide: Callable[[list[str]], Decision] | None = None
    """Gates: the decision on these items (recorded approval, --yes, or asking a person)."""
    deadline: Callable[[float], float] | None = None
    """Waits: the durable wake-up time for a wait of this many seconds (stored on first call)."""
    pause_waits_over: float | None = None
    """Waits with more seconds left than this pause the run (a worker); None waits in-process."""
    record: Callable[[str, dict[str, Any]], None] | None = None
    """Append an event about this step to the run's audit trail (type, data), fenced by the
    run's lease: a kind records its progress (a rollout's percentage) as it goes."""
    recorded: Callable[[str], list[dict[str, Any]]] | None = None
    """The data of the events of one type this step recorded in this run, oldest first: a kind
    resumed after a crash continues from its recorded progress."""
    store: Any = None
    """opsbook's store, for kinds that keep state there (flags)."""


@dataclass
class Decision:
    """A gate's answer; ``approved`` None means nobody has answered yet (the run pauses)."""

    approved: bool | None
    operator: str = ""
    note: str = ""


@dataclass
class StepResult:
    """The outcome of one attempt."""

    ok: bool
    outputs: dict[str, str] = field(default_factory=dict)
    exit_code: int | None = None
    message: str = ""
    irreversible: bool = False
    """Set when the attempt did something that cannot be rolled back (e.g. a migration)."""
    data: dict[str, Any] = field(default_factory=dict)
    """Extra facts to record with the attempt (e.g. a snapshot path)."""
    paused: bool = False
    """Set by a gate nobody has answered yet: the run pauses here (exit 3) instead of failing."""


class StepKind(ABC):
    """Base class of every step kind. Subclasses set the class variables and implement execute."""

    name: ClassVar[str]
    config_type: ClassVar[Any] = str
    """A type pydantic validates the step's configuration against."""
    changes_things: ClassVar[bool] = True
    """False for read-only kinds (checks, gates, waits); the plan and the env lock read it."""
    safe_to_rerun: ClassVar[bool] = False
    """True when an attempt interrupted by a crash may simply run again."""
    asks_humans: ClassVar[bool] = False
    """True when the kind may pause for a human's decision (``ctx.decide``), which
    ``opsbook approve RUN STEP`` gives."""

    def templates(self, config: Any) -> Iterable[str]:
        """Strings of the configuration that may hold ``${{ }}`` (validated before running)."""
        if isinstance(config, str):
            yield config
        elif isinstance(config, list | tuple):
            for item in config:
                yield from self.templates(item)

    def validate(self, config: Any, spec: Spec, runbook: Runbook, step: Step) -> list[str]:
        """Semantic problems with this step's configuration, each 'what is wrong; the fix'."""
        return []

    def describe(self, config: Any, render: Callable[[str], str]) -> str:
        """One line for the plan, with templates rendered (and secrets masked) by ``render``."""
        return render(config) if isinstance(config, str) else str(config)

    def is_irreversible(self, config: Any, step: Step, root: Path, spec: Spec) -> bool:
        """Whether the step cannot be rolled back (its ``irreversible`` field, or the kind)."""
        return step.irreversible

    def can_roll_back(self, config: Any, spec: Spec) -> bool:
        """Whether the kind undoes its own work (used when the step has no ``rollback:``)."""
        return False

    def rollback(self, ctx: StepContext, config: Any, data: dict[str, Any]) -> StepResult:
        """Undo what ``execute`` did; ``data`` is the ``StepResult.data`` it returned."""
        return StepResult(ok=False, message=f"{self.name} steps have no built-in rollback")

    @abstractmethod
    def execute(self, ctx: StepContext, config: Any) -> StepResult:
        """Do the step's work once and say how it went."""
