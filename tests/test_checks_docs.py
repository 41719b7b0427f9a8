"""docs/checks.md is real: its console examples are run, in order, in the project they describe
(built from seed 000's contract with reproducible values and a fixed fingerprint key), its
contract is the fixture's, and every finding code the checks can report is documented."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from conftest import REPO
from fixtures.checks.builder import TEMPLATE, Project, make_docs_project
from opsbook.spec.loader import load_spec, validate_text

DOC = REPO / "docs" / "checks.md"
CONSOLE = re.compile(r"^```console\n(.*?)^```", re.DOTALL | re.MULTILINE)
YAML = re.compile(r"^```yaml\n(.*?)^```", re.DOTALL | re.MULTILINE)
CODE = re.compile(r'\.add\(\s*(?:"\w+"|severity),\s*"(\w+)"', re.DOTALL)
SOURCES = ["contract.py", "envdiff.py", "dotenv_example.py", "secrets.py"]


def normalise(text: str) -> list[str]:
    lines = [line.rstrip() for line in text.splitlines()]
    while lines and not lines[-1]:
        lines.pop()
    return lines


@pytest.fixture(scope="module")
def project(tmp_path_factory: pytest.TempPathFactory) -> Project:
    return make_docs_project(tmp_path_factory.mktemp("docs") / "ibimina")


@pytest.mark.slow
def test_console_examples_run_as_shown(project: Project) -> None:
    text = DOC.read_text()
    blocks = list(CONSOLE.finditer(text))
    assert len(blocks) >= 9
    env = {
        **os.environ,
        "PATH": str(Path(sys.executable).parent) + os.pathsep + os.environ["PATH"],
        "NO_COLOR": "1",
        "COLUMNS": "120",
        "TERM": "dumb",
    }
    for block in blocks:  # in order: the baseline example changes what the next one shows
        line = text[: block.start()].count("\n") + 1
        command, _, expected = block.group(1).partition("\n")
        assert command.startswith("$ opsbook check "), f"checks.md:{line}"
        result = subprocess.run(
            command[2:], shell=True, cwd=project.root, env=env, capture_output=True, text=True
        )
        actual = result.stdout + result.stderr
        assert normalise(actual) == normalise(expected), f"checks.md:{line} printed:\n{actual}"
        assert not [v for v in project.planted if v in actual], f"checks.md:{line} leaked"
    assert not [v for v in project.planted if v in text]


def test_the_documented_contract_is_the_fixture(project: Project) -> None:
    documented = YAML.search(DOC.read_text())
    assert documented is not None
    doc_spec = validate_text(documented.group(1), "opsbook.yaml").spec
    fixture = load_spec(TEMPLATE / "opsbook.yaml").spec

    def contract(env: dict) -> dict:  # the doc leaves out the descriptions, to stay short
        return {name: var.model_dump(exclude={"description"}) for name, var in env.items()}

    assert contract(doc_spec.env) == contract(fixture.env)
    assert doc_spec.environments == fixture.environments


def test_every_finding_code_is_documented() -> None:
    text = DOC.read_text()
    source_dir = REPO / "src" / "opsbook" / "checks"
    codes = {c for name in SOURCES for c in CODE.findall((source_dir / name).read_text())}
    from opsbook.checks.secrets import PRIORITY

    codes |= set(PRIORITY)
    assert len(codes) >= 18
    missing = sorted(c for c in codes if f"| `{c}` |" not in text)
    assert not missing, f"finding codes missing from docs/checks.md tables: {missing}"
