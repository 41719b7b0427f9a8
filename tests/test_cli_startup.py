"""Start-up: `--version` and `--help` load no store, the command table names every command, and
each command loads only its own module."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from conftest import run_cli


def _loaded_after(*args: str, cwd: Path | None = None) -> set[str]:
    """The modules a fresh interpreter has loaded after running `opsbook ARGS`."""
    code = (
        "import sys\nfrom opsbook.cli import main\nsys.argv = ['opsbook', *sys.argv[1:]]\n"
        "try:\n    main()\nexcept SystemExit:\n    pass\n"
        "sys.stderr.write('\\n'.join(sys.modules))\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", code, *args], capture_output=True, text=True, timeout=30, cwd=cwd
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


_WHO_REGISTERS = """
import importlib, json, sys
from opsbook.cli import command_modules
from opsbook.cli.app import app

def names():
    found = {g.name for g in app.registered_groups}
    for c in app.registered_commands:
        found.add(c.name or c.callback.__name__.replace("_", "-"))
    return found

owner = {}
for module in command_modules():
    before = names()
    importlib.import_module("opsbook.cli." + module)
    owner.update(dict.fromkeys(names() - before, module))
sys.stdout.write(json.dumps(owner))
"""


def test_the_command_table_points_at_the_module_of_each_command() -> None:
    """A listed command loads its own module. An unlisted one still works (every module loads),
    so a new command is never broken, only slower to start until it is listed."""
    import json

    from opsbook.cli import COMMANDS

    done = subprocess.run(
        [sys.executable, "-c", _WHO_REGISTERS], capture_output=True, text=True, timeout=30
    )
    owner = json.loads(done.stdout)
    wrong = {n: m for n, m in COMMANDS.items() if owner.get(n) != m}
    assert not wrong, f"opsbook.cli.COMMANDS names the wrong module (or none) for {wrong}"


def test_a_command_missing_from_the_table_still_runs() -> None:
    loaded = _loaded_after("no-such-command")
    cmds = {m for m in loaded if m.startswith("opsbook.cli.") and m.endswith("_cmds")}
    from opsbook.cli import command_modules

    assert cmds == {f"opsbook.cli.{m}" for m in command_modules()}


_BAD_SPEC = (
    "version: 1\nproject: x\nrunbooks:\n  a:\n    steps:\n"
    "      - {id: s, run: 'true', bogus: 1}\n      - {id: t, needs: [zz], run: echo}\n"
)


_RUN_SPEC = (
    "version: 1\nproject: x\nenvironments: {local: {}}\nrunbooks:\n  a:\n    steps:\n"
    "      - {id: s, run: 'echo done'}\n"
)


def test_a_piped_run_loads_neither_rich_nor_the_source_kinds(tmp_path: Path) -> None:
    """Output to a pipe is plain text, and a file without sources: needs no source kind (the
    logs kind imports DuckDB)."""
    (tmp_path / "opsbook.yaml").write_text(_RUN_SPEC)
    loaded = _loaded_after("run", "a", "--env", "local", cwd=tmp_path)
    assert "opsbook.engine.runner" in loaded  # it did run
    assert not {m for m in loaded if m.startswith(("rich", "duckdb", "opsbook.sources.logs"))}


def test_validate_runs_without_typer(tmp_path: Path) -> None:
    (tmp_path / "opsbook.yaml").write_text(_BAD_SPEC)
    loaded = _loaded_after("validate", "-f", str(tmp_path / "opsbook.yaml"), "--json")
    assert "opsbook.spec.loader" in loaded  # it did validate
    assert not {m for m in loaded if m.startswith(("typer", "click"))}


@pytest.mark.parametrize(
    "args",
    [
        ("validate",),
        ("validate", "--json"),
        ("validate", "-f", "opsbook.yaml"),
        ("validate", "--file=opsbook.yaml", "--json"),
        ("validate", "-f", "missing.yaml"),
        ("validate", "-f", "."),
    ],
)
@pytest.mark.parametrize("spec", ["bad", "good"])
def test_validate_without_typer_reads_as_the_typer_command(
    tmp_path: Path, args: tuple[str, ...], spec: str
) -> None:
    """The console script's fast path (a subprocess here) and the Typer command (in process)
    print the same and exit the same."""
    good = (Path(__file__).parent.parent / "examples" / "shop" / "opsbook.yaml").read_text()
    (tmp_path / "opsbook.yaml").write_text(_BAD_SPEC if spec == "bad" else good)
    fast = run_cli(*args, cwd=tmp_path, in_process=False)
    typer_ = run_cli(*args, cwd=tmp_path, in_process=True)
    assert (fast.returncode, fast.stdout, fast.stderr) == (
        typer_.returncode,
        typer_.stdout,
        typer_.stderr,
    )
    assert fast.returncode == (0 if spec == "good" and "missing.yaml" not in args else 2)


@pytest.mark.parametrize(
    "args",
    [
        ["validate", "--help"],
        ["validate", "-f"],
        ["validate", "-f", "--json"],
        ["validate", "-f", "a", "-f", "b"],
        ["validate", "--json", "--json"],
        ["validate", "--file="],
        ["validate", "-fa.yaml"],
        ["validate", "extra"],
        ["plan", "-f", "a"],
    ],
)
def test_other_command_lines_go_to_typer(args: list[str]) -> None:
    from opsbook.cli.fast import validate_args

    assert validate_args(args) is None
