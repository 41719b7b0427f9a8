"""The Typer application and the one place library errors become messages and exit codes."""

from __future__ import annotations

from typing import Annotated, Any

import typer
from typer.core import TyperGroup

from opsbook.errors import OpsbookError, SpecError


class _Group(TyperGroup):
    """Maps OpsbookError to its message on stderr and its exit code, for every subcommand."""

    def get_command(self, ctx: Any, name: str) -> Any:
        command = super().get_command(ctx, name)
        if command is not None:
            _plain_metavars(command)
        return command

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
        finally:
            from opsbook.cli.common import close_stores

            close_stores()


def _plain_metavars(command: Any) -> None:
    """Help shows values as words (``-e ENV``, ``RUNBOOK``), not Python types (``<str>``)."""
    for param in getattr(command, "params", ()):
        if param.metavar is None and not getattr(param, "is_flag", False) and param.name:
            word = param.name.upper()
            param.metavar = "KEY=VALUE" if word == "PARAM" else word
        if param.param_type_name == "argument":  # RUNBOOK, [DIRECTORY]: no type, no braces
            word = param.metavar
            shown = (word if param.required else f"[{word}]") + ("..." if param.nargs != 1 else "")
            param.display_type_rich = lambda ctx: None
            param._usage_display_name = lambda shown=shown: shown


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
