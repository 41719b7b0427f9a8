"""``opsbook check ...``: pre-flight checks of configuration and the tree (exit 1 on findings)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from opsbook.checks.findings import Report
from opsbook.cli.app import subgroup
from opsbook.cli.options import EnvName, Json, SpecFile

check = subgroup(
    "check",
    "Pre-flight checks: the env contract, env diffs, .env.example, committed secrets. "
    "Exit 1 on error findings, 2 on bad input.",
)


def _finish(report: Report, json: bool) -> None:
    """Show the report; raise CheckFailed (exit 1) when it has errors."""
    from opsbook.console import print_json
    from opsbook.console.checks import show_report
    from opsbook.errors import CheckFailed

    if json:
        print_json(report.to_dict())
    else:
        show_report(report)
    if not report.ok:
        errors = report.counts()["error"]
        raise CheckFailed(f"check {report.check} found {errors} error{'s' * (errors != 1)}")


@check.command("env")
def env_(env: EnvName, json: Json = False, file: SpecFile = None) -> None:
    """Check an environment's effective variables against the env contract."""
    from opsbook.checks.contract import check_env
    from opsbook.spec.loader import load_spec

    _finish(check_env(load_spec(file), env), json)


@check.command("env-diff")
def env_diff(
    a: Annotated[str, typer.Argument(help="Environment name or dotenv file.")],
    b: Annotated[str, typer.Argument(help="Environment name or dotenv file.")],
    json: Json = False,
    file: SpecFile = None,
) -> None:
    """Compare two environments (or env files) by keyed hash: only in A, only in B, different,
    identical. An identical secret on both sides is an error."""
    from opsbook.checks.envdiff import diff_envs
    from opsbook.spec.loader import load_spec

    _finish(diff_envs(load_spec(file), a, b), json)


@check.command("dotenv-example")
def dotenv_example(
    example: Annotated[
        Path | None,
        typer.Argument(help="Example file (default: .env.example beside opsbook.yaml)."),
    ] = None,
    json: Json = False,
    file: SpecFile = None,
) -> None:
    """Check that the env contract and .env.example list the same variables."""
    from opsbook.checks.dotenv_example import check_dotenv_example
    from opsbook.spec.loader import load_spec

    _finish(check_dotenv_example(load_spec(file), example), json)


@check.command("secrets")
def secrets(
    path: Annotated[
        Path | None, typer.Argument(help="File or directory to scan (default: the project).")
    ] = None,
    baseline: Annotated[
        Path | None,
        typer.Option(
            help="Baseline file (default: .opsbook-secrets-baseline.json beside opsbook.yaml).",
            show_default=False,
        ),
    ] = None,
    update_baseline: Annotated[
        bool, typer.Option("--update-baseline", help="Accept every current finding.")
    ] = False,
    json: Json = False,
    file: SpecFile = None,
) -> None:
    """Scan the project (skipping gitignored files) for committed secrets."""
    from opsbook.checks.secrets import scan_secrets
    from opsbook.spec.loader import load_spec

    _finish(scan_secrets(load_spec(file), path, baseline, update_baseline), json)


@check.command("all")
def all_(env: EnvName, json: Json = False, file: SpecFile = None) -> None:
    """Run env, env-diff (shared secrets), dotenv-example and secrets for an environment."""
    from opsbook.checks.suite import check_all
    from opsbook.spec.loader import load_spec

    _finish(check_all(load_spec(file), env), json)
