"""${{ }} expressions: GitHub-style syntax over a safe evaluator."""

from __future__ import annotations

import pytest

from opsbook.errors import ExpressionError
from opsbook.spec import expressions as ex

CONTEXT = {
    "params": {"version": "2", "force": ""},
    "steps": {"build-web": {"outputs": {"sha": "abc"}, "outcome": "success"}},
    "environment": {"name": "production", "protected": True},
}


@pytest.mark.parametrize(
    ("expr", "value"),
    [
        ("params.version", "2"),
        ("params.missing", ""),
        ("steps.build-web.outputs.sha", "abc"),
        ("steps['build-web'].outcome == 'success'", True),
        ("environment.protected && params.version == '2'", True),
        ("!environment.protected || params.force", ""),
        ("contains(environment.name, 'PROD')", True),
        ("startsWith(params.version, '2')", True),
        ("format('v{0}-{1}', params.version, 'x')", "v2-x"),
        ("default(params.force, 'no')", "no"),
    ],
)
def test_evaluate(expr: str, value: object) -> None:
    assert ex.evaluate(expr, CONTEXT) == value


def test_render_and_condition() -> None:
    assert ex.render("deploy ${{ params.version }} (${{ environment.protected }})", CONTEXT) == (
        "deploy 2 (true)"
    )
    assert ex.condition("${{ environment.protected }}", CONTEXT) is True
    assert ex.condition("params.force", CONTEXT) is False
    assert ex.condition("'false'", CONTEXT) is False


@pytest.mark.parametrize(
    "expr",
    [
        "__import__('os').system('true')",
        "params.__class__",
        "().__class__.__bases__",
        "open('/etc/passwd')",
    ],
)
def test_no_escape_from_the_sandbox(expr: str) -> None:
    with pytest.raises(ExpressionError):
        ex.evaluate(expr, CONTEXT)


def test_references_and_parse_errors() -> None:
    refs = [
        str(r) for r in ex.references("steps.a-b.outputs.x == params.v && contains(env.X, 'y')")
    ]
    assert refs == ["steps.a-b.outputs.x", "params.v", "env.X"]
    with pytest.raises(ExpressionError, match="cannot parse"):
        ex.references("params.version ==")
