"""Start-up: `--version` and `--help` load no store, the command table names every command, and
each command loads only its own module."""

from __future__ import annotations

import subprocess
import sys

from conftest import run_cli


def _loaded_after(*args: str) -> set[str]:
    """The modules a fresh interpreter has loaded after running `opsbook ARGS`."""
    code = (
        "import sys\nfrom opsbook.cli import main\nsys.argv = ['opsbook', *sys.argv[1:]]\n"
        "try:\n    main()\nexcept SystemExit:\n    pass\n"
        "sys.stderr.write('\\n'.join(sys.modules))\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", code, *args], capture_output=True, text=True, timeout=30
    )
    return set(done.stderr.split("\n"))


def test_version_loads_nothing_heavy() -> None:
    done = run_cli("--version")
    assert done.returncode == 0 and done.stdout == "opsbook 0.1.0\n"
    loaded = _loaded_after("--version")
    assert not {"typer", "pydantic", "sqlalchemy", "rich", "typing"} & loaded


def test_help_never_opens_the_store_nor_loads_sqlalchemy() -> None:
    loaded = _loaded_after("--help")
    assert "typer" in loaded
    assert not {m for m in loaded if m.startswith(("sqlalchemy", "opsbook.store"))}


def test_a_command_loads_only_its_own_module() -> None:
    loaded = _loaded_after("validate", "--help")
    cmds = {m for m in loaded if m.startswith("opsbook.cli.") and m.endswith("_cmds")}
    assert cmds == {"opsbook.cli.spec_cmds"}


def test_the_command_table_names_every_command() -> None:
    from typer.main import get_command

    from opsbook.cli import COMMANDS, full_app

    names = set(get_command(full_app()).commands)  # type: ignore[attr-defined]
    assert names == set(COMMANDS), "add new commands to opsbook.cli.COMMANDS"
