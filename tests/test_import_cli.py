"""`opsbook import` and `opsbook init` as a user runs them: real subprocesses, real files."""

from __future__ import annotations

import json
from pathlib import Path

from conftest import FIXTURES, run_cli

RELEASE = FIXTURES / "import" / "release.md"


def test_import_writes_a_valid_file_and_a_report(tmp_path: Path) -> None:
    source = tmp_path / "RUNBOOK.md"
    source.write_text(RELEASE.read_text())
    result = run_cli("import", "RUNBOOK.md", "--report", "import-report.md", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert "wrote opsbook.yaml: 4 runbooks" in result.stdout
    text = (tmp_path / "opsbook.yaml").read_text()
    assert "# from RUNBOOK.md:9" in text  # the DATABASE_URL row
    report = (tmp_path / "import-report.md").read_text()
    assert "RUNBOOK.md:3: prose outside any section" in report
    valid = run_cli("validate", "--json", cwd=tmp_path)
    assert json.loads(valid.stdout)["valid"] is True
    plan = run_cli("plan", "deployment", "-e", "staging", "-p", "release_tag=v1", cwd=tmp_path)
    assert plan.returncode == 0, plan.stderr
    assert "git tag v1" in plan.stdout


def test_import_never_overwrites_without_force(tmp_path: Path) -> None:
    (tmp_path / "opsbook.yaml").write_text("keep me\n")
    refused = run_cli("import", str(RELEASE), cwd=tmp_path)
    assert refused.returncode == 2
    assert "opsbook.yaml already exists; pass --force" in refused.stderr
    assert (tmp_path / "opsbook.yaml").read_text() == "keep me\n"
    forced = run_cli("import", str(RELEASE), "--force", "-o", "opsbook.yaml", cwd=tmp_path)
    assert forced.returncode == 0, forced.stderr
    assert (tmp_path / "opsbook.yaml").read_text().startswith("# Imported from")


def test_import_missing_file_exits_2(tmp_path: Path) -> None:
    result = run_cli("import", "missing.md", cwd=tmp_path)
    assert result.returncode == 2
    assert "missing.md: no such file" in result.stderr
    assert "Traceback" not in result.stderr
    assert not (tmp_path / "opsbook.yaml").exists()


def _project(root: Path) -> None:
    (root / "package.json").write_text(
        json.dumps(
            {"name": "shop", "scripts": {"lint": "eslint .", "test": "vitest", "build": "next"}},
            indent=2,
        )
    )
    (root / "pnpm-lock.yaml").write_text("lockfileVersion: '9.0'\n")
    (root / "supabase" / "migrations").mkdir(parents=True)
    (root / "supabase" / "migrations" / "20240101000000_init.sql").write_text("select 1;\n")
    (root / ".env.example").write_text(
        "DATABASE_URL=\nNEXT_PUBLIC_SITE_URL=http://localhost:3000\nSTRIPE_SECRET_KEY=sk_test_x\n"
    )


def test_init_writes_a_release_runbook_that_plans(tmp_path: Path) -> None:
    _project(tmp_path)
    result = run_cli("init", str(tmp_path))
    assert result.returncode == 0, result.stderr
    assert "detected package.json with pnpm" in result.stdout
    text = (tmp_path / "opsbook.yaml").read_text()
    assert "- id: lint  # from package.json:" in text
    plan = run_cli("plan", "release", "-e", "production", "--json", cwd=tmp_path)
    assert plan.returncode == 0, plan.stderr
    steps = {s["id"]: s for s in json.loads(plan.stdout)["steps"]}
    assert list(steps) == ["env", "lint", "test", "build", "window", "migrate"]
    assert steps["migrate"]["action"] == "supabase db push"
    assert steps["migrate"]["irreversible"] is True
    assert steps["window"]["will_run"] is True  # production is protected
    again = run_cli("init", str(tmp_path))
    assert again.returncode == 2 and "--force" in again.stderr


def test_init_env_contract_from_env_example(tmp_path: Path) -> None:
    _project(tmp_path)
    assert run_cli("init", cwd=tmp_path).returncode == 0
    checked = run_cli("validate", "--json", cwd=tmp_path)
    assert json.loads(checked.stdout)["valid"] is True
    text = (tmp_path / "opsbook.yaml").read_text()
    assert "sk_test_x" not in text  # a secret's example value is not copied
    assert "example: http://localhost:3000" in text


def test_init_bad_package_json_names_the_line(tmp_path: Path) -> None:
    (tmp_path / "package.json").write_text('{\n  "scripts": {\n    "lint": \n}\n')
    result = run_cli("init", str(tmp_path))
    assert result.returncode == 2
    assert "package.json:4: cannot parse JSON" in result.stderr


def test_init_without_anything_still_plans(tmp_path: Path) -> None:
    result = run_cli("init", str(tmp_path))
    assert result.returncode == 0, result.stderr
    plan = run_cli("plan", "release", "-e", "staging", "--json", cwd=tmp_path)
    assert [s["id"] for s in json.loads(plan.stdout)["steps"]] == ["window", "todo"]


def test_init_makefile_and_dockerfile(tmp_path: Path) -> None:
    (tmp_path / "Makefile").write_text(".PHONY: lint\nlint:\n\truff .\ntest: lint\n\tpytest\n")
    (tmp_path / "Dockerfile").write_text("FROM python:3.11\n")
    assert run_cli("init", str(tmp_path)).returncode == 0
    text = (tmp_path / "opsbook.yaml").read_text()
    assert "- id: lint  # from Makefile:2" in text
    assert "- id: test  # from Makefile:4" in text
    plan = run_cli("plan", "release", "-e", "staging", "--json", cwd=tmp_path)
    steps = {s["id"]: s["action"] for s in json.loads(plan.stdout)["steps"]}
    assert steps["lint"] == "make lint" and steps["test"] == "make test"
    assert steps["deploy"].startswith("docker build -t ")


def test_an_existing_report_stops_before_anything_is_written(tmp_path: Path) -> None:
    (tmp_path / "report.md").write_text("old report\n")
    result = run_cli("import", str(RELEASE), "--report", "report.md", cwd=tmp_path)
    assert result.returncode == 2 and "report.md already exists" in result.stderr
    assert not (tmp_path / "opsbook.yaml").exists()
