"""spec + environment + params → a validated DAG: order, parallel waves, what changes things.

:func:`make_plan` runs nothing. It resolves parameters (defaults, patterns, choices), decides the
``if:`` conditions that depend only on params, vars and the environment, groups steps into waves
that may run in parallel, and renders each step's action with secret values masked.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass, field, replace
from typing import Any

from opsbook import environ
from opsbook.errors import ExpressionError, ParamError, UsageError
from opsbook.masking import Masker
from opsbook.spec import expressions as ex
from opsbook.spec.loader import LoadedSpec
from opsbook.spec.models import Runbook, Step
from opsbook.spec.validate import dependencies
from opsbook.steps.gate import gate_items
from opsbook.steps.registry import get_kind
from opsbook.wording import noun

_PLACEHOLDER_VAR = re.compile(r"YOUR[_-]|<[A-Za-z][\w-]*>|CHANGE[_-]?ME", re.I)


@dataclass
class PlannedStep:
    id: str
    name: str
    kind: str
    wave: int
    needs: list[str]
    action: str
    changes_things: bool
    rollback: str | None
    irreversible: bool
    gate: list[str] | None
    condition: str | None
    will_run: bool | None
    """True: runs; False: skipped by its if:; None: decided at run time (reads step outputs)."""
    timeout: float | None
    retry_attempts: int
    continue_on_error: bool
    after_irreversible: bool = False
    """True when an irreversible step runs before this one: rollback stops there."""
    confirm: list[str] | None = None
    """``confirm:`` steps: what a human confirms before the step runs (the command first)."""


@dataclass(frozen=True)
class RunInputs:
    """What the engine executes, resolved once by :func:`make_plan` and handed on as is.

    Never shown: unlike :attr:`Plan.params` the params here are not masked.
    """

    loaded: LoadedSpec
    runbook: Runbook
    effective: environ.Effective
    params: dict[str, str]


@dataclass
class Plan:
    project: str
    runbook: str
    description: str | None
    environment: str
    protected: bool
    params: dict[str, str]
    waves: list[list[str]]
    steps: list[PlannedStep]
    locks_environment: bool
    irreversible_point: str | None
    gates: list[str] = field(default_factory=list)
    confirmations: list[str] = field(default_factory=list)
    """Steps a human confirms before they run (``confirm:``), listed apart from the gates."""
    warnings: list[str] = field(default_factory=list)
    inputs: RunInputs | None = field(default=None, repr=False, compare=False)
    """The resolved values ``opsbook run`` executes (``start_run(store, plan)``)."""

    def to_dict(self) -> dict[str, Any]:
        shown = asdict(replace(self, inputs=None))
        del shown["inputs"]
        return shown

    def step(self, step_id: str) -> PlannedStep:
        return next(s for s in self.steps if s.id == step_id)


def get_runbook(loaded: LoadedSpec, name: str) -> Runbook:
    runbooks = loaded.spec.runbooks
    if name not in runbooks:
        close = difflib.get_close_matches(name, list(runbooks), n=1)
        hint = (
            f"did you mean '{close[0]}'?" if close else "known: " + (", ".join(runbooks) or "none")
        )
        raise UsageError(f"unknown runbook '{name}'", file=loaded.display, hint=hint)
    return runbooks[name]


def parse_param_args(pairs: list[str]) -> dict[str, str]:
    """``["version=2", "note=a=b"]`` → ``{"version": "2", "note": "a=b"}``."""
    params: dict[str, str] = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key.strip():
            raise ParamError(f"-p {pair!r} is not KEY=VALUE", hint="write e.g. -p version=2")
        params[key.strip()] = value
    return params


def resolve_params(
    loaded: LoadedSpec, runbook_name: str, given: Mapping[str, str]
) -> dict[str, str]:
    """Given params checked against the runbook's declarations, with defaults filled in."""
    runbook = get_runbook(loaded, runbook_name)
    declared = runbook.params
    problems: list[str] = []
    for key in given:
        if key not in declared:
            close = difflib.get_close_matches(key, list(declared), n=1)
            hint = (
                f"did you mean '{close[0]}'?"
                if close
                else (
                    "declared: " + ", ".join(declared)
                    if declared
                    else "this runbook takes no params"
                )
            )
            problems.append(f"unknown param '{key}'; {hint}")
    values: dict[str, str] = {}
    missing: list[str] = []
    for key, param in declared.items():
        if key in given:
            value = given[key]
        elif param.default is not None:
            value = param.default
        elif param.required:
            missing.append(key)
            continue
        else:
            value = ""
        if key in given and param.pattern and not re.search(param.pattern, value):
            problems.append(f"param '{key}'={value!r} does not match pattern {param.pattern!r}")
        if key in given and param.choices and value not in param.choices:
            problems.append(f"param '{key}'={value!r} is not one of {', '.join(param.choices)}")
        values[key] = value
    if missing:
        flags = " ".join(f"-p {m}=VALUE" for m in missing)
        problems.append(
            f"missing required {noun(len(missing), 'param')}: {', '.join(missing)}; pass {flags}"
        )
    if problems:
        raise ParamError(f"runbook '{runbook_name}': " + "; ".join(problems), file=loaded.display)
    return values


def expression_context(
    loaded: LoadedSpec,
    effective: environ.Effective,
    params: Mapping[str, str],
    *,
    run: Mapping[str, Any] | None = None,
    steps: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """The six names expressions read."""
    return {
        "params": dict(params),
        "vars": effective.vars,
        "env": dict(effective.values),
        "steps": dict(steps or {}),
        "run": {"project": loaded.spec.project, **(run or {})},
        "environment": {
            "name": effective.name,
            "protected": effective.environment.protected,
        },
    }


def waves(runbook: Runbook) -> list[list[str]]:
    """Steps grouped into waves: every step's needs are in earlier waves (Kahn layering)."""
    deps = dependencies(runbook)
    level: dict[str, int] = {}
    order = [s.id for s in runbook.steps]
    remaining = list(order)
    while remaining:
        progressed = False
        for sid in list(remaining):
            if all(d in level for d in deps[sid]):
                level[sid] = 1 + max((level[d] for d in deps[sid]), default=-1)
                remaining.remove(sid)
                progressed = True
        if not progressed:  # a cycle; validation reports it, never reached for a valid spec
            raise UsageError("dependency cycle among: " + ", ".join(remaining))
    out: list[list[str]] = [[] for _ in range(max(level.values(), default=-1) + 1)]
    for sid in order:
        out[level[sid]].append(sid)
    return out


def changes_things(step: Step) -> bool:
    """Whether a step changes things: its kind does and it is not marked ``read_only``."""
    return get_kind(step.kind).changes_things and not step.read_only


def locks_environment(loaded: LoadedSpec, runbook: Runbook) -> bool:
    """Whether runs of this runbook hold the environment (one at a time)."""
    if runbook.lock is not None:
        return runbook.lock
    return any(changes_things(s) for s in runbook.steps)


def make_plan(
    loaded: LoadedSpec,
    runbook_name: str,
    env_name: str,
    given: Mapping[str, str],
    process_env: Mapping[str, str] | None = None,
) -> Plan:
    """Resolve what a run would do, running nothing."""
    runbook = get_runbook(loaded, runbook_name)
    effective = environ.resolve(loaded, env_name, process_env)
    effective.check_secret_lengths()
    params = resolve_params(loaded, runbook_name, given)
    masker = Masker(effective.secrets)
    context = expression_context(loaded, effective, params, run={"id": "<run-id>"})
    deps = dependencies(runbook)
    layered = waves(runbook)
    wave_of = {sid: i for i, wave in enumerate(layered) for sid in wave}
    warnings: list[str] = []
    if effective.env_file is not None and not effective.env_file.is_file():
        warnings.append(
            f"env_file {effective.environment.env_file} of environment '{env_name}' does not exist"
        )

    for key, value in effective.environment.vars.items():
        if isinstance(value, str) and _PLACEHOLDER_VAR.search(value):
            warnings.append(
                f"vars.{key} of environment '{env_name}' is still a placeholder ({value});"
                " set it in opsbook.yaml"
            )

    def render(text: str) -> str:
        return masker(_render_static(text, context))

    # A step skipped by its if: counts as done for the steps that need it (unlike GitHub
    # Actions, where skipping cascades): an unprotected environment skips the on-call gate and
    # the release goes on.
    planned: list[PlannedStep] = []
    for step in sorted(runbook.steps, key=lambda s: wave_of[s.id]):
        kind = get_kind(step.kind)
        will_run = _decide(step, context)
        action = kind.describe(step.config, render)
        planned.append(
            PlannedStep(
                id=step.id,
                name=step.title,
                kind=step.kind,
                wave=wave_of[step.id] + 1,  # waves count from 1, in JSON as in text
                needs=deps[step.id],
                action=action,
                changes_things=changes_things(step),
                rollback=render(step.rollback)
                if step.rollback
                else (
                    f"built-in ({step.kind})"
                    if kind.can_roll_back(step.config, loaded.spec)
                    else None
                ),
                irreversible=kind.is_irreversible(step.config, step, loaded.root, loaded.spec),
                gate=[render(i) for i in gate_items(step.config)] if step.kind == "gate" else None,
                condition=step.if_,
                will_run=will_run,
                timeout=step.timeout,
                retry_attempts=step.retry.attempts,
                continue_on_error=step.continue_on_error,
                confirm=confirm_items(step, action, render) if step.confirm else None,
            )
        )
    order = [s.id for s in runbook.steps]
    planned.sort(key=lambda p: (p.wave, order.index(p.id)))
    seen_irreversible = False
    irreversible_point = None
    for p in planned:
        p.after_irreversible = seen_irreversible
        if p.irreversible and p.will_run is not False:
            seen_irreversible = True
            irreversible_point = irreversible_point or p.id
    return Plan(
        project=loaded.spec.project,
        runbook=runbook_name,
        description=runbook.description,
        environment=env_name,
        protected=effective.environment.protected,
        params={k: masker(v) for k, v in params.items()},
        waves=[list(w) for w in layered],
        steps=planned,
        locks_environment=locks_environment(loaded, runbook),
        irreversible_point=irreversible_point,
        gates=[p.id for p in planned if p.kind == "gate" and p.will_run is not False],
        confirmations=[p.id for p in planned if p.confirm and p.will_run is not False],
        warnings=warnings,
        inputs=RunInputs(loaded, runbook, effective, dict(params)),
    )


def confirm_items(step: Step, action: str, render: Callable[[str], str]) -> list[str]:
    """What a human confirms before a ``confirm:`` step: its exact action, then the step's text.

    ``action`` is already rendered and masked; the engine passes the same strings to the person
    (and records them as the approval's evidence), so the plan shows exactly what will be asked.
    """
    items = [f"{step.kind}: {action}"]
    if isinstance(step.confirm, str):
        items.append(render(step.confirm))
    return items


def _decide(step: Step, context: Mapping[str, Any]) -> bool | None:
    if step.if_ is None:
        return True
    source = ex.condition_source(step.if_)
    if any(r.parts[0] == "steps" for r in ex.references(source)):
        return None
    try:
        return ex.condition(step.if_, context)
    except ExpressionError:
        return None


def _render_static(text: str, context: Mapping[str, Any]) -> str:
    """Render templates, leaving those that read step outputs or the run id as written."""

    def one(match: re.Match[str]) -> str:
        expr = match.group(1)
        refs = ex.references(expr)
        if any(r.parts[0] == "steps" or r.parts[:2] == ("run", "id") for r in refs):
            return match.group(0)
        return ex.to_text(ex.evaluate(expr, context))

    return ex.TEMPLATE.sub(one, text)
