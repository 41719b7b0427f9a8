"""opsbook.yaml validation: every problem is reported at its line, with a fix."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from conftest import FIXTURES, run_cli
from opsbook.errors import SpecError
from opsbook.spec.loader import load_spec, validate_text

VALID = (FIXTURES / "spec" / "valid.yaml").read_text()


def problems_of(text: str) -> list[str]:
    with pytest.raises(SpecError) as info:
        validate_text(text, "opsbook.yaml")
    return [str(p) for p in info.value.problems]


def line_of(text: str, needle: str) -> int:
    for number, line in enumerate(text.splitlines(), 1):
        if needle in line:
            return number
    raise AssertionError(f"{needle!r} not in text")


def test_valid_fixture_loads_with_kinds_bound() -> None:
    loaded = validate_text(VALID, "opsbook.yaml")
    release = loaded.spec.runbooks["release"]
    assert [s.kind for s in release.steps] == [
        "check",
        "run",
        "run",
        "gate",
        "run",
        "run",
        "run",
        "check",
        "wait",
    ]
    assert release.step("soak").config == 30.0
    assert release.step("verify").retry.delay == 3.0


def test_unknown_needs_names_line_and_suggests() -> None:
    text = VALID.replace("needs: [env, lint, test, window]", "needs: [env, lint, tset, window]")
    (problem,) = problems_of(text)
    line = line_of(text, "tset")
    assert problem == (
        f"opsbook.yaml:{line}: runbooks.release.steps[4].needs: unknown step 'tset'; "
        "did you mean 'test'?"
    )


def test_cycle_is_named() -> None:
    text = VALID.replace("needs: [migrate]", "needs: [verify]")
    (problem,) = problems_of(text)
    assert "dependency cycle: deploy → verify → deploy" in problem
    assert problem.startswith(f"opsbook.yaml:{line_of(text, 'needs: [verify]')}:")


def test_misspelt_key_gets_did_you_mean() -> None:
    text = VALID.replace("    description: Promote", "    descripton: Promote")
    (problem,) = problems_of(text)
    assert problem == (
        f"opsbook.yaml:{line_of(text, 'descripton')}: runbooks.release.descripton: "
        "unknown key 'descripton'; did you mean 'description'?"
    )


def test_misspelt_step_key_gets_did_you_mean() -> None:
    text = VALID.replace("rollback: ./scripts", "rollbak: ./scripts")
    (problem,) = problems_of(text)
    assert "unknown key 'rollbak'; did you mean 'rollback'?" in problem
    assert problem.startswith(f"opsbook.yaml:{line_of(text, 'rollbak')}:")


def test_bad_duration() -> None:
    text = VALID.replace("timeout: 10m", "timeout: 10x")
    (problem,) = problems_of(text)
    assert problem.startswith(f"opsbook.yaml:{line_of(text, '10x')}: runbooks.release.steps[2]")
    assert "'10x' is not a duration" in problem


def test_all_four_at_once_each_at_its_line() -> None:
    text = (
        VALID.replace("needs: [env, lint, test, window]", "needs: [env, lint, tset, window]")
        .replace("needs: [migrate]", "needs: [verify]")
        .replace("    description: Promote", "    descripton: Promote")
        .replace("timeout: 10m", "timeout: 10x")
    )
    problems = problems_of(text)
    assert len(problems) == 4
    expected_lines = {
        line_of(text, "tset"),
        line_of(text, "needs: [verify]"),
        line_of(text, "descripton"),
        line_of(text, "10x"),
    }
    assert {int(p.split(":")[1]) for p in problems} == expected_lines


def test_duplicate_ids_and_missing_kind_and_two_kinds() -> None:
    text = VALID.replace("- {id: lint, run: make lint, needs: []}", "- {id: env, run: make lint}")
    assert any("duplicate step id 'env'" in p for p in problems_of(text))
    text = VALID.replace("- {id: lint, run: make lint, needs: []}", "- {id: lint}")
    assert any("step has no kind; add one of:" in p for p in problems_of(text))
    text = VALID.replace(
        "- {id: lint, run: make lint, needs: []}", "- {id: lint, run: a, wait: 1s}"
    )
    assert any("two kinds" in p for p in problems_of(text))


def test_unknown_check_name() -> None:
    text = VALID.replace("check: [health, providers]", "check: [helth, providers]")
    (problem,) = problems_of(text)
    assert "unknown check 'helth'; did you mean 'health'?" in problem


@pytest.mark.parametrize(
    ("old", "new", "message"),
    [
        (
            '"${{ params.version }}"',
            '"${{ params.verison }}"',
            "undefined parameter 'params.verison'",
        ),
        ('"${{ run.id }}"', '"${{ runn.id }}"', "undefined name 'runn'; did you mean 'run'?"),
        ("${{ env.DATABASE_URL }}", "${{ env.DATABSE_URL }}", "did you mean 'DATABASE_URL'?"),
        ("${{ vars.BASE_URL }}/health", "${{ vars.BASE_ULR }}/health", "undefined variable"),
        ("${{ steps.health.outcome }}", "${{ steps.helth.outcome }}", "unknown step 'steps.helth'"),
        ("${{ environment.protected }}", "${{ environment.prod }}", "unknown 'environment.prod'"),
        ('"${{ params.version }}"', '"${{ params.version }"', "unclosed ${{"),
        ("${{ environment.protected }}", "${{ nope(1) }}", "unknown function 'nope'"),
    ],
)
def test_undefined_names_in_expressions(old: str, new: str, message: str) -> None:
    text = VALID.replace(old, new, 1)
    problems = problems_of(text)
    assert any(message in p for p in problems), problems
    assert all(re.match(r"^opsbook\.yaml:\d+: ", p) for p in problems)


def test_params_in_checks_must_exist_in_some_runbook() -> None:
    text = VALID.replace(
        'http: "${{ vars.BASE_URL }}/health"', 'http: "${{ vars.BASE_URL }}/${{ params.nope }}"'
    )
    assert any("undefined parameter 'params.nope'" in p for p in problems_of(text))


def test_var_missing_in_one_environment() -> None:
    text = VALID.replace('    vars: {BASE_URL: "https://shop.example.com"}', "    vars: {}")
    assert any("not set in environment production" in p for p in problems_of(text))


def test_yaml_syntax_error_has_line() -> None:
    text = VALID.replace("  local:\n", "  local:\n   bad: [\n", 1)
    (problem,) = problems_of(text)
    assert re.match(r"^opsbook\.yaml:\d+: YAML syntax error", problem)


def test_wrong_types_and_bad_pattern() -> None:
    text = VALID.replace("protected: true", "protected: maybe")
    assert any("protected" in p and "bool" in p.lower() for p in problems_of(text))
    text = VALID.replace('pattern: "^sk_(test|live)_"', 'pattern: "^sk_(test"')
    assert any("bad pattern" in p for p in problems_of(text))


def test_top_level_x_keys_are_kept_and_others_rejected() -> None:
    loaded = validate_text(VALID + "x-operations: {alerts: [{name: a}]}\n", "opsbook.yaml")
    assert loaded.spec.extensions == {"x-operations": {"alerts": [{"name": "a"}]}}
    assert any("unknown key 'runbook'" in p for p in problems_of(VALID + "runbook: {}\n"))


def test_not_a_mapping_and_wrong_version() -> None:
    assert problems_of("- a\n- b\n")[0].startswith("opsbook.yaml:1: ")
    assert any(
        "write `version: 1`" in p for p in problems_of(VALID.replace("version: 1", "version: 2"))
    )


def test_spec_is_found_in_parent_directories(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "opsbook.yaml").write_text(VALID)
    deep = tmp_path / "a" / "b"
    deep.mkdir(parents=True)
    monkeypatch.chdir(deep)
    assert load_spec().path == (tmp_path / "opsbook.yaml").resolve()


def test_cli_validate_exit_codes(tmp_path: Path) -> None:
    good = tmp_path / "opsbook.yaml"
    good.write_text(VALID)
    result = run_cli("validate", "-f", str(good))
    assert result.returncode == 0, result.stderr
    assert "is valid" in result.stdout
    good.write_text(VALID.replace("needs: [migrate]", "needs: [verify]"))
    result = run_cli("validate", cwd=tmp_path)
    assert result.returncode == 2
    assert result.stderr.startswith("opsbook.yaml:")
    assert "Traceback" not in result.stderr
    result = run_cli("validate", cwd=Path("/"))
    assert result.returncode == 2
    assert "no opsbook.yaml" in result.stderr


def test_cli_validate_json(tmp_path: Path) -> None:
    import json

    spec = tmp_path / "opsbook.yaml"
    spec.write_text(VALID.replace("timeout: 10m", "timeout: 10x"))
    result = run_cli("validate", "--json", cwd=tmp_path)
    assert result.returncode == 2
    document = json.loads(result.stdout)
    assert document["valid"] is False
    assert document["problems"][0]["line"] == line_of(spec.read_text(), "10x")


def test_every_stderr_line_starts_with_the_file_name_from_any_directory(tmp_path: Path) -> None:
    """The issue's contract: each message starts with `opsbook.yaml:<line>:`, nothing else."""
    copy = tmp_path / "copy" / "opsbook.yaml"
    copy.parent.mkdir()
    copy.write_text((FIXTURES / "spec" / "broken" / "opsbook.yaml").read_text())
    for cwd in (tmp_path, copy.parent, Path("/")):
        result = run_cli("validate", "-f", str(copy), cwd=cwd)
        assert result.returncode == 2
        lines = result.stderr.splitlines()
        assert len(lines) == 4
        assert all(re.match(r"^opsbook\.yaml:\d+: ", line) for line in lines), lines


def _doc_specs() -> list[tuple[str, dict[str, Any]]]:
    """Every YAML block of docs/ that is a whole opsbook.yaml (it has ``version``), plus the
    examples: between them they use every section."""
    import re

    from opsbook.spec import fastyaml

    root = Path(__file__).resolve().parent.parent
    texts = [(p.name, p.read_text()) for p in (root / "examples").rglob("opsbook.yaml")]
    for md in sorted((root / "docs").glob("*.md")):
        blocks = re.findall(r"```ya?ml\n(.*?)```", md.read_text(encoding="utf-8"), re.S)
        texts += [(f"{md.name}#{i}", block) for i, block in enumerate(blocks)]
    found = []
    for name, text in texts:
        try:
            data = fastyaml.load(text)
        except fastyaml.Unsure:
            continue
        if isinstance(data, dict) and "version" in data:
            found.append((name, data))
    return found


def test_sections_validate_alone_as_the_whole_spec_validates() -> None:
    """A file is checked against the core and its own sections only; the result (or every
    error) is what the whole Spec model gives, and together the files cover every section."""
    from pydantic import ValidationError

    from opsbook.spec.models import SECTIONS, full_spec_model, validate_spec

    specs = _doc_specs()
    seen = {key for _, data in specs for key in data}
    assert set(SECTIONS) <= seen, f"no documented file has {set(SECTIONS) - seen}"
    whole = full_spec_model()
    for name, data in specs:
        broken = {**data, **{s: {"x": {"no_such_key": 1}} for s in SECTIONS if s in data}}
        for case in (data, broken):
            try:
                expected: Any = whole.model_validate(case).model_dump()
            except ValidationError as err:
                expected = [(e["loc"], e["type"], e["msg"]) for e in err.errors()]
            try:
                got: Any = validate_spec(case).model_dump()
            except ValidationError as err:
                got = [(e["loc"], e["type"], e["msg"]) for e in err.errors()]
            assert got == expected, name


def test_a_file_without_a_section_never_loads_its_models(tmp_path: Path) -> None:
    (tmp_path / "opsbook.yaml").write_text(
        "version: 1\nproject: p\nrunbooks:\n  r:\n    steps:\n      - {id: a, run: 'true'}\n"
    )
    code = (
        "import sys\nfrom opsbook.spec.loader import load_spec\n"
        f"load_spec({str(tmp_path / 'opsbook.yaml')!r})\nprint('\\n'.join(sys.modules))"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=30)
    loaded = set(done.stdout.split("\n"))
    assert "opsbook.spec.loader" in loaded
    sections = {"opsbook.calendars", "opsbook.flags.models", "opsbook.incidents.models"}
    assert not (sections | {"opsbook.notify.config", "opsbook.monitor.config"}) & loaded
