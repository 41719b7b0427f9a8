"""``opsbook validate`` and ``opsbook plan``."""

from __future__ import annotations

from opsbook.cli.app import app
from opsbook.cli.options import EnvName, Json, Params, SpecFile


@app.command()
def validate(file: SpecFile = None, json: Json = False) -> None:
    """Check opsbook.yaml: exit 0 when valid, 2 with one line per problem otherwise."""
    from opsbook.cli.fast import validate as check

    check(file, json=json)


@app.command()
def plan(
    runbook: str,
    env: EnvName,
    param: Params = None,
    json: Json = False,
    file: SpecFile = None,
) -> None:
    """Show what a run would do, in order and in parallel waves, running nothing."""
    from opsbook.console import print_json
    from opsbook.console.plan import show_plan
    from opsbook.plan import make_plan, parse_param_args
    from opsbook.spec.loader import load_spec

    result = make_plan(load_spec(file), runbook, env, parse_param_args(param or []))
    if json:
        print_json(result.to_dict())
    else:
        show_plan(result)
