"""Semantic rules of opsbook.yaml that a schema cannot express.

Step kinds, duplicate ids, ``needs`` naming unknown steps, dependency cycles, unknown checks and
undefined names inside ``${{ }}``. Each rule yields Problems located at the offending line.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING

from opsbook.errors import ExpressionError, Problem
from opsbook.spec import expressions as ex
from opsbook.spec.kindconfig import validate_kind_config
from opsbook.spec.limits import id_problem
from opsbook.spec.models import COMMON_STEP_FIELDS, ENV_NAME, Runbook, Spec
from opsbook.steps.registry import get_kind, is_kind, kind_names
from opsbook.wording import noun

if TYPE_CHECKING:
    from opsbook.spec.loader import LoadedSpec, Loc


def _suggest(word: str, options: Iterable[str]) -> str:
    close = difflib.get_close_matches(word, list(options), n=1, cutoff=0.6)
    return f"did you mean '{close[0]}'?" if close else ""


@dataclass
class Scope:
    """What names an expression may read where it stands."""

    params: set[str] | None  # None: any runbook's params
    steps: set[str] | None  # None: no steps in scope (checks, database)
    where: str


def semantic_problems(loaded: LoadedSpec) -> list[Problem]:
    spec, doc = loaded.spec, loaded.document
    problems: list[Problem] = []

    def add(loc: Loc, message: str) -> None:
        problems.append(Problem(doc.file, doc.line(loc), _path(loc), message))

    top_fields = [f.alias or n for n, f in Spec.model_fields.items()]
    for key in spec.model_extra or {}:
        if not key.startswith("x-"):
            hint = _suggest(key, top_fields) or "custom data goes under an x- key (x-operations)"
            add((key,), f"unknown key '{key}'; {hint}")

    for section, kind in (
        ("environments", "environment"),
        ("runbooks", "runbook"),
        ("checks", "check"),
    ):
        for name in getattr(spec, section):
            problem = id_problem(kind, name)
            if problem:
                add((section, name), problem)

    for name, var in spec.env.items():
        if not ENV_NAME.fullmatch(name):
            add(("env", name), f"'{name}' is not a valid variable name; use A-Z, 0-9 and _")
        if var.pattern and var.default is not None:
            import re

            if not re.search(var.pattern, var.default):
                add(("env", name, "default"), f"default does not match pattern {var.pattern!r}")

    for name in spec.checks:
        problems.extend(_check_problems(loaded, name))

    if spec.database is not None:
        scope = Scope(params=None, steps=None, where="database")
        for message in _template_problems(spec.database.url, spec, scope):
            add(("database", "url"), message)

    from opsbook.monitor.validate import operations_problems

    problems.extend(
        Problem(doc.file, doc.line(loc), _path(loc), m) for loc, m in operations_problems(spec)
    )

    for rb_name, runbook in spec.runbooks.items():
        problems.extend(
            Problem(doc.file, doc.line(loc), _path(loc), msg)
            for loc, msg in _runbook_problems(spec, rb_name, runbook)
        )
    if any(getattr(spec, section) for section in INCIDENT_SECTIONS):
        from opsbook.incidents.validate import problems as incident_problems

        problems.extend(incident_problems(loaded))
    return problems


INCIDENT_SECTIONS = ("severities", "oncall", "contacts", "escalation", "schedules")
"""Every rule of :mod:`opsbook.incidents.validate` is about one of these; without any of them
its models are not loaded."""


def _check_problems(loaded: LoadedSpec, name: str) -> Iterator[Problem]:
    """A named check: its type, its type's keys, the type's own rules, its templates."""
    from opsbook.checks.registry import get_check_type
    from opsbook.spec.checktypes import bind_check

    spec, doc = loaded.spec, loaded.document
    check = spec.checks[name]
    base: Loc = ("checks", name)
    found = [((*base, *loc), message) for loc, message in bind_check(check)]
    if not found:
        ctype = get_check_type(check.type)
        found += [((*base, check.type), m) for m in ctype.validate(check.config, spec)]
        scope = Scope(params=None, steps=None, where=f"check '{name}'")
        for loc, text in ctype.templates(check.config):
            found += [((*base, *loc), m) for m in _template_problems(text, spec, scope)]
    for loc, message in found:
        yield Problem(doc.file, doc.line(loc), _path(loc), message)


def _path(loc: Loc) -> str:
    out = ""
    for part in loc:
        out += f"[{part}]" if isinstance(part, int) else ("." if out else "") + str(part)
    return out


def _runbook_problems(spec: Spec, rb_name: str, runbook: Runbook) -> Iterator[tuple[Loc, str]]:
    base: Loc = ("runbooks", rb_name)
    if not runbook.steps:
        yield base, "runbook has no steps; add at least one under steps:"
    for pname, param in runbook.params.items():
        if param.choices and param.default is not None and param.default not in param.choices:
            yield (
                (*base, "params", pname, "default"),
                (f"default {param.default!r} is not one of {param.choices}"),
            )
    ids: dict[str, int] = {}
    for index, step in enumerate(runbook.steps):
        loc: Loc = (*base, "steps", index)
        if step.id in ids:
            yield (
                (*loc, "id"),
                (f"duplicate step id '{step.id}' (also steps[{ids[step.id]}]); ids must be unique"),
            )
        else:
            ids[step.id] = index
        extras = list(step.model_extra or {})
        kinds = [k for k in extras if is_kind(k)]
        for key in extras:
            if key not in kinds:
                hint = _suggest(key, [*COMMON_STEP_FIELDS, *kind_names()])
                yield (
                    (*loc, key),
                    f"unknown key '{key}'; "
                    + (hint or "a step has one kind: " + ", ".join(kind_names())),
                )
        if not kinds:
            if not any(k not in kinds for k in extras):
                yield loc, "step has no kind; add one of: " + ", ".join(kind_names())
            continue
        if len(kinds) > 1:
            yield (
                (*loc, kinds[1]),
                (f"step has two kinds ({kinds[0]} and {kinds[1]}); split it into two steps"),
            )
            continue
        kind = get_kind(kinds[0])
        config, errors = validate_kind_config(kind.config_type, (step.model_extra or {})[kinds[0]])
        for sub, message in errors:
            yield (*loc, kinds[0], *sub), message
        if errors:
            continue
        step.bind(kinds[0], config)
        for message in kind.validate(config, spec, runbook, step):
            yield (*loc, kinds[0]), message
        if step.rollback is not None and step.irreversible:
            yield (
                (*loc, "rollback"),
                ("an irreversible step cannot have a rollback; drop one of the two"),
            )
        for key in step.env:
            if not ENV_NAME.fullmatch(key):
                yield (*loc, "env", key), f"'{key}' is not a valid variable name; use A-Z, 0-9, _"

    all_ids = [s.id for s in runbook.steps]
    for index, step in enumerate(runbook.steps):
        for need in step.needs or []:
            if need not in ids:
                hint = _suggest(need, all_ids) or "known steps: " + ", ".join(all_ids)
                yield (*base, "steps", index, "needs"), f"unknown step '{need}'; {hint}"
            elif need == step.id:
                yield (*base, "steps", index, "needs"), f"step '{step.id}' needs itself; remove it"

    cycle = find_cycle(runbook)
    if cycle:
        first = ids[cycle[0]]
        yield (
            (*base, "steps", first, "needs"),
            ("dependency cycle: " + " → ".join([*cycle, cycle[0]]) + "; remove one of these needs"),
        )

    scope = Scope(params=set(runbook.params), steps=set(all_ids), where=f"runbook '{rb_name}'")
    for index, step in enumerate(runbook.steps):
        loc = (*base, "steps", index)
        strings: list[tuple[Loc, str]] = []
        if step.kind:
            strings += [((*loc, step.kind), t) for t in get_kind(step.kind).templates(step.config)]
        if step.rollback:
            strings.append(((*loc, "rollback"), step.rollback))
        if step.dir:
            strings.append(((*loc, "dir"), step.dir))
        strings += [((*loc, "env", k), str(v)) for k, v in step.env.items()]
        for where, text in strings:
            for message in _template_problems(text, spec, scope):
                yield where, message
        if step.if_ is not None:
            for message in _expression_problems(ex.condition_source(step.if_), spec, scope):
                yield (*loc, "if"), message


def dependencies(runbook: Runbook) -> dict[str, list[str]]:
    """Each step's effective needs: as written, or the step above when ``needs`` is omitted."""
    deps: dict[str, list[str]] = {}
    previous: str | None = None
    for step in runbook.steps:
        if step.needs is None:
            deps[step.id] = [previous] if previous else []
        else:
            deps[step.id] = list(step.needs)
        previous = step.id
    return deps


def find_cycle(runbook: Runbook) -> list[str] | None:
    """A dependency cycle as a list of step ids, or None."""
    deps = dependencies(runbook)
    state: dict[str, int] = {}
    stack: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = 1
        stack.append(node)
        for need in deps.get(node, []):
            if need not in deps or need == node:
                continue
            if state.get(need) == 1:
                return stack[stack.index(need) :]
            if need not in state:
                found = visit(need)
                if found:
                    return found
        stack.pop()
        state[node] = 2
        return None

    for step in runbook.steps:
        if step.id not in state:
            found = visit(step.id)
            if found:
                return found
    return None


def _template_problems(text: str, spec: Spec, scope: Scope) -> Iterator[str]:
    if "${{" not in text:
        return
    if text.count("${{") != len(list(ex.templates(text))):
        yield "unclosed ${{ — close it with }}"
        return
    for expr in ex.templates(text):
        yield from _expression_problems(expr, spec, scope)


def _expression_problems(expr: str, spec: Spec, scope: Scope) -> Iterator[str]:
    try:
        refs = ex.references(expr)
        calls = ex.function_names(expr)
    except ExpressionError as err:
        yield str(err)
        return
    for call in calls:
        if call not in ex.FUNCTIONS:
            yield f"unknown function '{call}' in ${{{{ {expr.strip()} }}}}; " + (
                _suggest(call, ex.FUNCTIONS) or "known: " + ", ".join(ex.FUNCTIONS)
            )
    for ref in refs:
        message = _reference_problem(ref.parts, spec, scope)
        if message:
            yield f"{message} in ${{{{ {expr.strip()} }}}}"


def _reference_problem(parts: tuple[str, ...], spec: Spec, scope: Scope) -> str | None:
    root = parts[0]
    if root not in ex.ROOTS:
        hint = _suggest(root, ex.ROOTS) or "known names: " + ", ".join(ex.ROOTS)
        return f"undefined name '{root}'; {hint}"
    if len(parts) < 2:
        return None
    key = parts[1]
    if root == "params":
        known = (
            scope.params
            if scope.params is not None
            else {p for rb in spec.runbooks.values() for p in rb.params}
        )
        if key not in known:
            hint = _suggest(key, known) or f"declare it under params: of {scope.where}"
            return f"undefined parameter 'params.{key}'; {hint}"
    elif root == "vars":
        missing = [name for name, e in spec.environments.items() if key not in e.vars]
        if not spec.environments or len(missing) == len(spec.environments):
            known = {v for e in spec.environments.values() for v in e.vars}
            hint = _suggest(key, known) or "set it under environments.<name>.vars"
            return f"undefined variable 'vars.{key}'; {hint}"
        if missing:
            return (
                f"'vars.{key}' is not set in {noun(len(missing), 'environment')}"
                f" {', '.join(missing)}; set it under their vars:"
            )
    elif root == "env":
        if key not in spec.env:
            hint = _suggest(key, spec.env) or "declare it in the env: contract"
            return f"undefined variable 'env.{key}'; {hint}"
    elif root == "steps":
        if scope.steps is None:
            return f"'steps.{key}' cannot be used in {scope.where}; steps exist only in runbooks"
        if key not in scope.steps:
            hint = _suggest(key, scope.steps) or "known steps: " + ", ".join(sorted(scope.steps))
            return f"unknown step 'steps.{key}'; {hint}"
        if len(parts) >= 3 and parts[2] not in ex.STEP_KEYS:
            return f"'steps.{key}.{parts[2]}' is unknown; use outputs.NAME, outcome or status"
    elif root == "run" and key not in ex.RUN_KEYS:
        return f"unknown 'run.{key}'; known: " + ", ".join(ex.RUN_KEYS)
    elif root == "environment" and key not in ex.ENVIRONMENT_KEYS:
        return f"unknown 'environment.{key}'; known: " + ", ".join(ex.ENVIRONMENT_KEYS)
    return None
