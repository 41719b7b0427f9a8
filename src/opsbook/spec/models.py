"""The opsbook.yaml file format as pydantic models.

Unknown keys are errors (``extra="forbid"``), except under a step, where the one key that is not a
common field names the step's kind (``run``, ``check``, ``gate``, ``wait``, ``migrate`` or a
plugin's), and at the top level, where ``x-`` keys hold free-form data (``x-operations``).
"""

from __future__ import annotations

import functools
import re
import typing
from typing import TYPE_CHECKING, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, PrivateAttr, create_model, field_validator

from opsbook.approvals.models import Approvers
from opsbook.spec.durations import Duration
from opsbook.spec.limits import id_problem

if TYPE_CHECKING:  # the sections' models load with the first file that has the section
    from opsbook.calendars import Calendar
    from opsbook.flags.models import Flags
    from opsbook.incidents import models as incidents
    from opsbook.monitor.config import Alert, Metric, Slo
    from opsbook.notify.config import Notify
    from opsbook.sources.config import Source

NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_.-]*$")
ENV_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")

Scalar = str | int | float | bool


from opsbook.spec.strict import Model  # noqa: E402  (re-exported: sections build on it)


def compile_pattern(pattern: str | None) -> str | None:
    if pattern is not None:
        try:
            re.compile(pattern)
        except re.error as err:
            raise ValueError(f"bad pattern {pattern!r}: {err}") from None
    return pattern


def _text(value: Any) -> Any:
    """YAML reads `default: 8081` or `default: true` as numbers and booleans; keep them as text."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return str(value)
    return value


class Environment(Model):
    """Where a runbook runs: its env file, plain variables, and whether it is protected."""

    description: str | None = None
    env_file: str | None = None
    vars: dict[str, Scalar] = Field(default_factory=dict)
    protected: bool = False
    approvers: Approvers | None = None


class EnvVar(Model):
    """One entry of the environment contract (seed 000's table)."""

    required: bool = False
    default: str | None = None
    secret: bool = False
    pattern: str | None = None
    description: str | None = None
    service: str | None = None
    example: str | None = None

    _check_pattern = field_validator("pattern")(compile_pattern)
    _scalar_to_text = field_validator("default", "example", mode="before")(_text)


class Check(BaseModel):
    """A named, read-only verification. Exactly one key besides the common fields names its
    type (``http``, ``sql``, ``tcp``, ``command``, ``env`` or a plugin's); the other keys belong
    to that type and are validated against its model when the spec is validated."""

    model_config = ConfigDict(extra="allow", populate_by_name=True)

    description: str | None = None
    timeout: Duration = 10.0

    _type: str = PrivateAttr(default="")
    _config: Any = PrivateAttr(default=None)

    @property
    def type(self) -> str:
        """The check type's name (the key that selected it)."""
        if not self._type:
            self._bind_now()
        return self._type

    @property
    def config(self) -> Any:
        """The type's validated configuration (its pydantic model)."""
        if not self._type:
            self._bind_now()
        return self._config

    def bind(self, type_name: str, config: Any) -> None:
        self._type, self._config = type_name, config

    def _bind_now(self) -> None:
        from opsbook.spec.checktypes import bind_check

        problems = bind_check(self)
        if problems:
            raise ValueError("; ".join(message for _, message in problems))


class Param(Model):
    """A runbook parameter, given with ``-p KEY=VALUE``."""

    required: bool = False
    default: str | None = None
    description: str | None = None
    pattern: str | None = None
    choices: list[str] | None = None

    _check_pattern = field_validator("pattern")(compile_pattern)
    _scalar_to_text = field_validator("default", mode="before")(_text)


class Retry(Model):
    """How often a failing step is tried, and how long to wait between tries."""

    attempts: int = Field(default=1, ge=1, le=100)
    delay: Duration = 0.0
    backoff: float = Field(default=1.0, ge=1.0, le=10.0)


COMMON_STEP_FIELDS = (
    "id",
    "name",
    "needs",
    "if",
    "env",
    "dir",
    "timeout",
    "retry",
    "rollback",
    "irreversible",
    "idempotent",
    "continue_on_error",
    "read_only",
    "description",
    "confirm",
)


class Step(BaseModel):
    """One step. Exactly one key besides the common fields names its kind.

    ``needs`` omitted means "after the step above" (a runbook reads top to bottom);
    ``needs: []`` starts the step at once, in parallel with other roots.
    """

    model_config = ConfigDict(extra="allow", populate_by_name=True)

    id: str
    name: str | None = None
    description: str | None = None
    needs: list[str] | None = None
    if_: str | None = Field(default=None, alias="if")
    env: dict[str, Scalar] = Field(default_factory=dict)
    dir: str | None = None
    timeout: Duration | None = None
    retry: Retry = Field(default_factory=Retry)
    rollback: str | None = None
    irreversible: bool = False
    idempotent: bool = False
    continue_on_error: bool = False
    read_only: bool = False
    """A ``run`` step that changes nothing (lint, tests, diagnostics): not counted as a change."""
    confirm: bool | str = False
    """A human confirms the exact resolved command before the step runs (text: what to check)."""

    _kind: str = PrivateAttr(default="")
    _config: Any = PrivateAttr(default=None)

    @field_validator("id")
    @classmethod
    def _check_id(cls, value: str) -> str:
        problem = id_problem("step id", value)
        if problem:
            raise ValueError(problem)
        return value

    @field_validator("needs", mode="before")
    @classmethod
    def _one_need(cls, value: Any) -> Any:
        return [value] if isinstance(value, str) else value

    @field_validator("if_", mode="before")
    @classmethod
    def _bool_if(cls, value: Any) -> Any:
        if isinstance(value, bool):
            return "true" if value else "false"
        return value

    @property
    def kind(self) -> str:
        """The step kind's name, set when the spec is validated."""
        return self._kind

    @property
    def config(self) -> Any:
        """The kind's validated configuration (the value under the kind's key)."""
        return self._config

    def bind(self, kind: str, config: Any) -> None:
        self._kind = kind
        self._config = config

    @property
    def title(self) -> str:
        return self.name or self.id


class Runbook(Model):
    """A named procedure: parameters and a DAG of steps."""

    description: str | None = None
    params: dict[str, Param] = Field(default_factory=dict)
    lock: bool | None = None
    steps: list[Step] = Field(default_factory=list)

    def step(self, step_id: str) -> Step:
        for step in self.steps:
            if step.id == step_id:
                return step
        raise KeyError(step_id)


class Database(Model):
    """The application's database (not opsbook's own store): migrations and audits."""

    url: str
    migrations: str
    naming: Literal["supabase", "numbered", "flyway"] | None = None
    schemas: list[str] = Field(default_factory=lambda: ["public"])
    snapshots: str = ".opsbook/snapshots"
    restore_on_rollback: bool = False
    lock_timeout: Duration = 60.0


class SpecCore(BaseModel):
    """The parts of opsbook.yaml that every file is checked against (built when this module
    loads); the other sections are :class:`Spec`'s."""

    model_config = ConfigDict(extra="allow", populate_by_name=True)

    version: Literal[1]
    project: str
    environments: dict[str, Environment] = Field(default_factory=dict)
    env: dict[str, EnvVar] = Field(default_factory=dict)
    checks: dict[str, Check] = Field(default_factory=dict)
    runbooks: dict[str, Runbook] = Field(default_factory=dict)
    database: Database | None = None

    @property
    def extensions(self) -> dict[str, Any]:
        """Free-form ``x-`` keys such as ``x-operations``."""
        return {k: v for k, v in (self.model_extra or {}).items() if k.startswith("x-")}


class Spec(SpecCore):
    """The whole opsbook.yaml.

    Its validator is never built whole: :func:`validate_spec` checks a file against the core and
    the sections the file has (a file without ``flags:`` never loads the flag models, about 10 ms
    each section), then makes the Spec from what passed. A new section is a field here; the
    names its annotation uses go in ``_SECTION_NAMES`` (and the TYPE_CHECKING imports).
    """

    model_config = ConfigDict(extra="allow", populate_by_name=True, defer_build=True)

    calendars: dict[str, Calendar] = Field(default_factory=dict)
    flags: Flags = Field(default_factory=dict)
    severities: dict[str, incidents.Severity] = Field(default_factory=dict)
    oncall: dict[str, incidents.OncallSchedule] = Field(default_factory=dict)
    contacts: dict[str, incidents.Contact] = Field(default_factory=dict)
    escalation: dict[str, incidents.Policy] = Field(default_factory=dict)
    schedules: dict[str, incidents.Schedule] = Field(default_factory=dict)
    sources: dict[str, Source] = Field(default_factory=dict)
    metrics: dict[str, Metric] = Field(default_factory=dict)
    alerts: dict[str, Alert] = Field(default_factory=dict)
    slos: dict[str, Slo] = Field(default_factory=dict)
    notify: Notify | None = None


SECTIONS = tuple(name for name in Spec.model_fields if name not in SpecCore.model_fields)
"""Top-level keys whose models load only for a file that has them."""


_SECTION_NAMES = {
    # a name in Spec's section annotations -> (module, attribute; None: the module itself)
    "Calendar": ("opsbook.calendars", "Calendar"),
    "Flags": ("opsbook.flags.models", "Flags"),
    "incidents": ("opsbook.incidents.models", None),
    "Source": ("opsbook.sources.config", "Source"),
    "Metric": ("opsbook.monitor.config", "Metric"),
    "Alert": ("opsbook.monitor.config", "Alert"),
    "Slo": ("opsbook.monitor.config", "Slo"),
    "Notify": ("opsbook.notify.config", "Notify"),
}


def _annotation(section: str) -> Any:
    """The type Spec declares for ``section``, its models imported (and made names here)."""
    import importlib

    text = Spec.__annotations__[section]  # source text: `from __future__ import annotations`
    for name in set(re.findall(r"[A-Za-z_]+", text)) & _SECTION_NAMES.keys():
        module, attribute = _SECTION_NAMES[name]
        loaded = importlib.import_module(module)
        globals()[name] = loaded if attribute is None else getattr(loaded, attribute)
    holder = type(section, (), {"__annotations__": {section: text}, "__module__": __name__})
    return typing.get_type_hints(holder)[section]


@functools.cache
def model_for(sections: frozenset[str]) -> type[SpecCore]:
    """A model of the core and ``sections`` (names from :data:`SECTIONS`), field for field as
    Spec declares them."""
    if not sections:
        return SpecCore
    fields: dict[str, Any] = {
        name: (_annotation(name), Spec.model_fields[name]) for name in SECTIONS if name in sections
    }
    return create_model("Spec", __base__=SpecCore, __module__=__name__, **fields)


def validate_spec(data: Any) -> Spec:
    """``data`` (plain YAML) as a Spec; ValidationError as Spec's own validation would raise."""
    present = frozenset(k for k in SECTIONS if isinstance(data, dict) and k in data)
    checked = model_for(present).model_validate(data)
    return Spec.model_construct(_fields_set=checked.model_fields_set, **dict(checked))


def full_spec_model() -> type[Spec]:
    """Spec with every section's model loaded (for walking its fields and annotations)."""
    for section in SECTIONS:
        _annotation(section)
    Spec.model_rebuild()
    return Spec
