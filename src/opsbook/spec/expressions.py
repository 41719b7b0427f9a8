"""``${{ }}`` expressions and ``if:`` conditions, evaluated by simpleeval (never ``eval``).

The syntax is GitHub-Actions-like: ``${{ params.version }}``, ``${{ steps.build.outputs.sha }}``,
``environment.protected && params.force != 'yes'``. Python spellings (``and``, ``or``, ``not``)
work too. Step ids with hyphens can be written as ``steps.my-step`` or ``steps['my-step']``.

Names: ``params``, ``vars``, ``env``, ``steps``, ``run``, ``environment``. A missing key evaluates
to the empty string (as in GitHub Actions); :func:`references` lets the validator reject unknown
names before anything runs.
"""

from __future__ import annotations

import ast
import json
import re
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any

import simpleeval

from opsbook.errors import ExpressionError
from opsbook.spec import limits

ROOTS = ("params", "vars", "env", "steps", "run", "environment")
RUN_KEYS = ("id", "operator", "runbook", "started_at", "git_sha", "project")
ENVIRONMENT_KEYS = ("name", "protected")
STEP_KEYS = ("outputs", "outcome", "status")

TEMPLATE = re.compile(r"\$\{\{(.*?)\}\}", re.DOTALL)
_STRING = re.compile(r"'(?:[^'\\]|\\.)*'|\"(?:[^\"\\]|\\.)*\"")
_HYPHEN_ATTR = re.compile(r"\.([A-Za-z_][A-Za-z0-9_]*(?:-[A-Za-z0-9_]+)+)")


class Lenient(dict[str, Any]):
    """A mapping whose missing keys read as the empty string."""

    def __missing__(self, key: str) -> str:
        return ""


def _lenient(value: Any) -> Any:
    if isinstance(value, Mapping):
        return Lenient({str(k): _lenient(v) for k, v in value.items()})
    return value


def _contains(haystack: Any, needle: Any) -> bool:
    if isinstance(haystack, str):
        return str(needle).lower() in haystack.lower()
    return needle in haystack


def _format(template: str, *args: Any) -> str:
    return re.sub(r"\{(\d+)\}", lambda m: str(args[int(m.group(1))]), template)


def _from_json(text: Any) -> Any:
    limits.check_json(str(text))
    return json.loads(text)


def _power(base: Any, exponent: Any) -> Any:
    limits.check_power(base, exponent)
    return base**exponent


OPERATORS: dict[type[ast.AST], Callable[..., Any]] = {
    **simpleeval.DEFAULT_OPERATORS,
    ast.Pow: _power,
}
_QUOTED = re.compile(r"'[^']*'|\"[^\"]*\"")


def _without_values(err: Exception) -> str:
    """An error's text with quoted values removed: int('s3cret') must not print the secret."""
    if isinstance(err, limits.LimitExceeded):
        return str(err)
    return _QUOTED.sub("'…'", str(err))


FUNCTIONS: dict[str, Callable[..., Any]] = {
    "contains": _contains,
    "startsWith": lambda s, p: str(s).lower().startswith(str(p).lower()),
    "endsWith": lambda s, p: str(s).lower().endswith(str(p).lower()),
    "format": _format,
    "join": lambda items, sep=",": str(sep).join(str(i) for i in items),
    "toJSON": lambda v: json.dumps(v),
    "fromJSON": _from_json,
    "lower": lambda s: str(s).lower(),
    "upper": lambda s: str(s).upper(),
    "len": len,
    "int": int,
    "default": lambda v, fallback: v if v not in ("", None) else fallback,
}


def translate(expr: str) -> str:
    """Rewrite GitHub-style operators and literals into the Python subset simpleeval reads.

    >>> translate("!environment.protected && steps.a-b.outputs.x == 'y' || true")
    "not environment.protected and steps['a-b'].outputs.x == 'y' or True"
    """
    out: list[str] = []
    pos = 0
    for match in _STRING.finditer(expr):
        out.append(_translate_code(expr[pos : match.start()]))
        out.append(match.group(0))
        pos = match.end()
    out.append(_translate_code(expr[pos:]))
    return "".join(out).strip()


def _translate_code(code: str) -> str:
    code = _HYPHEN_ATTR.sub(lambda m: f"['{m.group(1)}']", code)
    code = code.replace("&&", " and ").replace("||", " or ")
    code = re.sub(r"!(?!=)", " not ", code)
    code = re.sub(r"\btrue\b", "True", code)
    code = re.sub(r"\bfalse\b", "False", code)
    code = re.sub(r"\bnull\b", "None", code)
    return re.sub(r"  +", " ", code)


@dataclass(frozen=True)
class Reference:
    """A dotted name an expression reads, e.g. ``("steps", "build", "outputs", "sha")``."""

    parts: tuple[str, ...]

    def __str__(self) -> str:
        return ".".join(self.parts)


def parse(expr: str) -> ast.Expression:
    """Parse an expression; raise ExpressionError naming it when it is not valid."""
    source = translate(expr)
    if not source:
        raise ExpressionError("empty expression", hint="write a name such as params.version")
    if len(source) > limits.MAX_STRING:
        raise ExpressionError(f"expression is {len(source):,} characters; write a shorter one")
    try:
        tree = ast.parse(source, mode="eval")
    except (SyntaxError, RecursionError, MemoryError) as err:
        raise ExpressionError(
            f"cannot parse expression {_short(expr)}: {getattr(err, 'msg', 'nested too deeply')}",
            hint="use names like params.version, operators ==, !=, &&, ||, ! and 'quoted' strings",
        ) from None
    _check_constant_powers(tree, expr)
    return tree


def _short(expr: str) -> str:
    text = expr.strip()
    return repr(text if len(text) <= 80 else text[:80] + "...")


def _check_constant_powers(tree: ast.AST, expr: str) -> None:
    """``4000000**4000000`` is refused when the file is validated, not when it is run."""
    for node in ast.walk(tree):
        if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Pow):
            try:
                base, exponent = ast.literal_eval(node.left), ast.literal_eval(node.right)
                limits.check_power(base, exponent)
            except limits.LimitExceeded as err:
                raise ExpressionError(
                    f"expression {_short(expr)}: {err}", hint="use a smaller power"
                ) from None
            except (ValueError, TypeError, SyntaxError, RecursionError, MemoryError):
                continue  # not a constant: checked when evaluated


def references(expr: str) -> list[Reference]:
    """The dotted names an expression reads, outermost chains only.

    >>> [str(r) for r in references("steps.build.outputs.sha == params.version")]
    ['steps.build.outputs.sha', 'params.version']
    """
    tree = parse(expr)
    found: list[Reference] = []

    def chain(node: ast.AST) -> tuple[str, ...] | None:
        if isinstance(node, ast.Name):
            return (node.id,)
        if isinstance(node, ast.Attribute):
            base = chain(node.value)
            return None if base is None else (*base, node.attr)
        if (
            isinstance(node, ast.Subscript)
            and isinstance(node.slice, ast.Constant)
            and isinstance(node.slice.value, str)
        ):
            base = chain(node.value)
            return None if base is None else (*base, node.slice.value)
        return None

    def visit(node: ast.AST) -> None:
        if isinstance(node, ast.Call):
            for arg in node.args:
                visit(arg)
            return
        parts = chain(node)
        if parts is not None:
            found.append(Reference(parts))
            return
        for child in ast.iter_child_nodes(node):
            visit(child)

    visit(tree.body)
    return found


def function_names(expr: str) -> list[str]:
    """Names of the functions an expression calls."""
    return [
        node.func.id
        for node in ast.walk(parse(expr))
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Name)
    ]


def templates(text: str) -> Iterator[str]:
    """The expressions inside each ``${{ }}`` of a string."""
    for match in TEMPLATE.finditer(text):
        yield match.group(1)


def evaluate(expr: str, context: Mapping[str, Any]) -> Any:
    """Evaluate one expression against a context of the six names."""
    names = {root: _lenient(context.get(root, {})) for root in ROOTS}
    evaluator = simpleeval.EvalWithCompoundTypes(
        names=names, functions=FUNCTIONS, operators=OPERATORS
    )
    tree = parse(expr)
    try:
        return evaluator.eval(translate(expr), previously_parsed=tree.body)
    except simpleeval.InvalidExpression as err:
        raise ExpressionError(f"cannot evaluate {_short(expr)}: {_without_values(err)}") from None
    except (TypeError, ValueError, KeyError, IndexError, ZeroDivisionError, ArithmeticError) as err:
        raise ExpressionError(f"cannot evaluate {_short(expr)}: {_without_values(err)}") from None
    except (RecursionError, MemoryError):
        raise ExpressionError(f"cannot evaluate {_short(expr)}: nested too deeply") from None


def to_text(value: Any) -> str:
    """How a value is written into a command: booleans as true/false, None as empty."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, dict | list):
        return json.dumps(value)
    return str(value)


def render(text: str, context: Mapping[str, Any]) -> str:
    """Replace every ``${{ expr }}`` in text by its value.

    >>> render("deploy ${{ params.version }}", {"params": {"version": "2"}})
    'deploy 2'
    """
    if "${{" not in text:
        return text
    return TEMPLATE.sub(lambda m: to_text(evaluate(m.group(1), context)), text)


def condition(expr: str, context: Mapping[str, Any]) -> bool:
    """Evaluate an ``if:`` condition; a whole ``${{ }}`` wrapper is allowed."""
    stripped = expr.strip()
    match = TEMPLATE.fullmatch(stripped)
    value = evaluate(match.group(1) if match else stripped, context)
    if isinstance(value, str):
        return value.lower() not in ("", "false", "0", "no")
    return bool(value)


def condition_source(expr: str) -> str:
    """The bare expression of an ``if:`` value (without a ``${{ }}`` wrapper)."""
    stripped = expr.strip()
    match = TEMPLATE.fullmatch(stripped)
    return match.group(1) if match else stripped
