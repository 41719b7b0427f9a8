"""The command line: parse arguments, make one library call, map errors to exit codes.

Each area registers its commands in its own ``*_cmds`` module (``@app.command()`` or a
``subgroup``). Modules load on demand: ``opsbook run ...`` imports ``run_cmds`` only, and
``opsbook --version`` imports nothing but this file. Add a new command's name to ``COMMANDS``
(tests/test_cli_startup.py checks the table); a name missing there still works, it just loads
every command module. Exit codes: 0 success, 1 a run or check failed, 2 invalid input or usage,
3 waiting for a human, 4 environment locked.
"""

from __future__ import annotations

import sys
import types

TYPE_CHECKING = False  # not typing's: importing typing would double `opsbook --version`
if TYPE_CHECKING:
    import typer

__all__ = ["COMMANDS", "full_app", "load_commands", "main"]

COMMANDS = {
    # command or group name -> the module (in this package) that registers it
    "validate": "spec_cmds",
    "plan": "spec_cmds",
    "run": "run_cmds",
    "resume": "run_cmds",
    "abort": "run_cmds",
    "approve": "run_cmds",
    "resolve": "run_cmds",
    "worker": "run_cmds",
    "runs": "audit_cmds",
    "show": "audit_cmds",
    "releases": "audit_cmds",
    "verify-log": "audit_cmds",
    "import": "import_cmds",
    "init": "import_cmds",
    "check": "check_cmds",
    "db": "db_cmds",
    "token": "auth_cmds",
    "user": "auth_cmds",
    "flag": "flag_cmds",
    "flags": "flag_cmds",
    "incident": "incident_cmds",
    "oncall": "incident_cmds",
    "handoff": "incident_cmds",
    "monitor": "monitor_cmds",
    "silence": "monitor_cmds",
    "watch": "monitor_cmds",
    "alerts": "monitor_cmds",
    "slo": "monitor_cmds",
    "serve": "serve_cmds",
}


def command_modules() -> list[str]:
    """Every ``*_cmds`` module of this package."""
    import pkgutil

    return sorted(m.name for m in pkgutil.iter_modules(__path__) if m.name.endswith("_cmds"))


def load_commands(name: str | None = None) -> None:
    """Register the module of command ``name``, or every command module (``None``/unknown)."""
    import importlib

    modules = [COMMANDS[name]] if name in COMMANDS else command_modules()
    for module in modules:
        importlib.import_module(f"{__name__}.{module}")


def full_app() -> typer.Typer:
    """The Typer app with every command registered (docs, tests, completion)."""
    from opsbook.cli.app import app

    load_commands()
    return app


def _command_name(args: list[str]) -> str | None:
    """The command a command line names (the root takes no option with a value)."""
    return next((a for a in args if not a.startswith("-")), None)


def _not_utf8(args: list[str]) -> str | None:
    """What is wrong with the first argument that is not UTF-8 text (Python decodes argv with
    surrogateescape, and such a string fails wherever it is stored or shown), or None. The
    argument itself is not repeated: it may be a secret."""
    from opsbook.utf8 import bad_offset

    for number, arg in enumerate(args, start=1):
        offset = bad_offset(arg)
        if offset is not None:
            byte = arg.encode("utf-8", "surrogateescape")[len(arg[:offset].encode())]
            where = f"byte 0x{byte:02x} at character {offset + 1}"
            return (
                f"argument {number} is not UTF-8 text ({where});"
                " opsbook keeps text as UTF-8: type it again in a UTF-8 terminal, or rename the"
                " file it names"
            )
    return None


def main() -> None:
    args = sys.argv[1:]
    if args == ["--version"]:
        from opsbook import __version__

        sys.stdout.write(f"opsbook {__version__}\n")
        return
    problem = _not_utf8(args)
    if problem is not None:
        sys.stderr.write(f"error: {problem}\n")
        sys.exit(2)
    from opsbook.cli import fast

    code = fast.run(args)
    if code is not None:
        sys.exit(code)
    from opsbook.cli.app import app

    load_commands(_command_name(args))
    app()


class _Package(types.ModuleType):
    """``opsbook.cli.app`` names the Typer app with every command, always.

    Importing the submodule ``opsbook.cli.app`` makes the import system bind the submodule to
    the package's ``app``; this property ignores that binding, so ``from opsbook.cli import app``
    gives the app whatever was imported before.
    """

    @property
    def app(self) -> typer.Typer:
        return full_app()

    @app.setter
    def app(self, value: object) -> None:
        pass


sys.modules[__name__].__class__ = _Package
