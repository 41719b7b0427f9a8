"""The Typer application and the one place library errors become messages and exit codes."""

from __future__ import annotations

from typing import Annotated, Any

import typer
from typer.core import TyperGroup

from opsbook.errors import OpsbookError, SpecError


class _Group(TyperGroup):
    """Maps OpsbookError to its message on stderr and its exit code, for every subcommand."""

    def invoke(self, ctx: Any) -> Any:
        try:
            return super().invoke(ctx)
        except SpecError as error:
            from opsbook.console.spec import show_problems

            show_problems(error)
            raise typer.Exit(error.exit_code) from None
        except OpsbookError as error:
            from opsbook import console  # Rich loads only when there is something to show

            console.error(str(error))
            raise typer.Exit(error.exit_code) from None


app = typer.Typer(
    cls=_Group,
    name="opsbook",
    help="Release and operations runbooks as one checked-in file, run durably with an audit trail.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
    rich_markup_mode=None,
)


def subgroup(name: str, help: str) -> typer.Typer:
    """A command group (``opsbook check ...``) that shares the error mapping."""
    group = typer.Typer(cls=_Group, help=help, no_args_is_help=True, rich_markup_mode=None)
    app.add_typer(group, name=name)
    return group


def _print_version(value: bool) -> None:
    if value:
        from opsbook import __version__

        typer.echo(f"opsbook {__version__}")
        raise typer.Exit()


@app.callback()
def _root(
    version: Annotated[
        bool,
        typer.Option(
            "--version",
            help="Print opsbook's version and exit.",
            is_eager=True,
            callback=_print_version,
        ),
    ] = False,
) -> None:
    """Release and operations runbooks as one checked-in file, run durably with an audit trail."""
