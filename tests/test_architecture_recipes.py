"""docs/architecture.md's recipes work as written: the step kind and the check type they show,
installed as a plugin package (a module and its dist-info on the path, as pip installs it), are
used in a runbook by the real `opsbook` command."""

from __future__ import annotations

import re
import textwrap
import tomllib
from pathlib import Path

import pytest

from conftest import REPO, run_cli

DOC = (REPO / "docs" / "architecture.md").read_text()


def _section(title: str) -> str:
    return DOC.split(f"## {title}\n", 1)[1].split("\n## ", 1)[0]


def _block(section: str, language: str) -> str:
    found = re.search(rf"^```{language}\n(.*?)^```", section, re.DOTALL | re.MULTILINE)
    assert found, f"no {language} block"
    return found.group(1)


def _install(site: Path, title: str) -> str:
    """Install the recipe's package into ``site``; return the entry point's name."""
    section = _section(title)
    points = tomllib.loads(_block(section, "toml"))["project"]["entry-points"]
    (group, entries), *_ = points.items()
    (name, target), *_ = entries.items()
    package = target.split(":")[0]
    (site / package).mkdir(parents=True)
    (site / package / "__init__.py").write_text(_block(section, "python"))
    info = site / f"{package}-0.1.dist-info"
    info.mkdir()
    (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {package}\nVersion: 0.1\n")
    (info / "entry_points.txt").write_text(f"[{group}]\n{name} = {target}\n")
    return str(name)


@pytest.fixture
def site(tmp_path: Path) -> Path:
    path = tmp_path / "site"
    path.mkdir()
    return path


def _project(root: Path, body: str) -> Path:
    root.mkdir()
    header = "version: 1\nproject: plug\nenvironments: {local: {}}\n"
    (root / "opsbook.yaml").write_text(header + textwrap.dedent(body))
    return root


def _opsbook(root: Path, site: Path, store: str, *args: str) -> tuple[int, str]:
    done = run_cli(
        *args,
        cwd=root,
        env={"PYTHONPATH": str(site), "OPSBOOK_DATABASE_URL": store, "OPSBOOK_OPERATOR": "t"},
        in_process=False,  # entry points are read once per process
    )
    return done.returncode, done.stdout + done.stderr


def test_the_check_type_recipe(tmp_path: Path, site: Path, store_url: str) -> None:
    assert _install(site, "Add a check type") == "file"
    usage = _block(_section("Add a check type"), "yaml")
    root = _project(tmp_path / "p", usage)
    (root / "releases").mkdir()
    (root / "releases" / "2.txt").write_text("approved by ana\n")
    code, out = _opsbook(root, site, store_url, "run", "verify", "-e", "local", "-p", "version=2")
    assert code == 0, out
    assert "released: ok (16 characters" in out
    code, out = _opsbook(root, site, store_url, "run", "verify", "-e", "local", "-p", "version=3")
    assert code == 1, out
    assert "releases/3.txt does not exist" in out


def test_a_plugin_check_is_validated_with_its_line(tmp_path: Path, site: Path) -> None:
    _install(site, "Add a check type")
    root = _project(tmp_path / "p", "checks:\n  notes: {file: NOTES.md, contain: x}\n")
    code, out = _opsbook(root, site, "sqlite:///unused.db", "validate")
    assert code == 2, out
    assert "opsbook.yaml:5: checks.notes.contain: unknown key 'contain'; did you mean" in out
    # Without the plugin, the same file says the type is unknown, naming the line too.
    without = run_cli("validate", cwd=root)
    assert without.returncode == 2 and "opsbook.yaml:5:" in without.stderr


def test_the_step_kind_recipe(tmp_path: Path, site: Path, store_url: str) -> None:
    assert _install(site, "Add a step kind") == "say"
    root = _project(
        tmp_path / "p",
        """\
        runbooks:
          release:
            params: {version: {required: true}}
            steps:
              - {id: hello, say: "deploying ${{ params.version }}"}
              - {id: after, run: 'echo "said ${{ steps.hello.outputs.said }}"'}
        """,
    )
    code, out = _opsbook(root, site, store_url, "run", "release", "-e", "local", "-p", "version=7")
    assert code == 0, out
    assert "says: deploying 7" in out and "said deploying 7" in out
