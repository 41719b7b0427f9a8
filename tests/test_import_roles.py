"""Block roles, cd scope, alternatives and the env contract of imported shell blocks, one rule at
a time (the corpus in test_import_corpus.py checks them together on whole runbooks)."""

from __future__ import annotations

import pytest

from opsbook.importer import import_text
from opsbook.importer.commands import MAX_PARSE, Class, classify
from opsbook.importer.roles import clean, is_script


def _runbook(body: str) -> str:
    return f"# Runbook\n\n## Work\n\n{body}\n"


def _steps(body: str) -> list[object]:
    result = import_text(_runbook(body), "RUNBOOK.md")
    return list(result.loaded.spec.runbooks["work"].steps)


def test_prompts_are_stripped_and_their_output_dropped() -> None:
    cleaned = clean("$ kubectl get pods\nNAME  READY\napi-0 1/1\n$ echo done\ndone\n", 10, False)
    assert [x for x in cleaned.content.splitlines() if x] == ["kubectl get pods", "echo done"]
    assert [(d.line, d.why) for d in cleaned.dropped] == [
        (11, "example output"),
        (12, "example output"),
        (14, "example output"),
    ]


def test_root_prompts_in_a_console_block_but_comments_elsewhere() -> None:
    session = clean("# systemctl restart nginx\n", 1, True)
    assert session.content.strip() == "systemctl restart nginx"
    plain = clean("# restart the proxy\nsystemctl restart nginx\n", 1, False)
    assert plain.content.splitlines()[0] == "# restart the proxy"


def test_output_tables_config_and_crontab_lines_are_not_commands() -> None:
    cleaned = clean(
        "kubectl get sc\nNAME   PROVISIONER   RECLAIMPOLICY\ngp3    ebs           Delete\n\n"
        "work_mem = 64MB\n*/5 * * * * /usr/bin/backup\n@daily /usr/bin/rotate\n"
        "[program:worker]\ncommand=/usr/bin/node worker.js\n",
        1,
        False,
    )
    assert cleaned.content.split() == ["kubectl", "get", "sc"]
    notes = [d.text for d in cleaned.dropped if d.note]
    assert notes == [
        "work_mem = 64MB",
        "*/5 * * * * /usr/bin/backup",
        "@daily /usr/bin/rotate",
        "[program:worker]",
        "command=/usr/bin/node worker.js",
    ]


def test_sql_in_a_shell_block_runs_through_psql_with_its_line_numbers() -> None:
    cleaned = clean("echo start\nDELETE FROM jobs;\nSELECT 1;\necho end\n", 5, False)
    lines = cleaned.content.splitlines()
    assert lines[1].startswith('psql "$DATABASE_URL"') and lines[4] == "SQL"
    assert cleaned.numbers == [5, 6, 6, 7, 7, 8]
    assert classify(cleaned.content) == Class.DESTRUCTIVE


def test_sql_inside_a_quoted_string_is_left_alone() -> None:
    cleaned = clean('psql "$DATABASE_URL" -c "\nSELECT 1;\n"\n', 1, False)
    assert "<<'SQL'" not in cleaned.content


def test_a_script_is_one_step_and_its_own_variables_are_not_contract() -> None:
    script = (
        '```bash\n#!/bin/bash\nDATE=$(date +%F)\nlog() { echo "$1"; }\n'
        'log "$DATE $API_URL"\nrm -rf /tmp/x-$DATE\n```'
    )
    assert is_script(script.split("\n", 1)[1])
    result = import_text(_runbook(script), "RUNBOOK.md")
    (step,) = result.loaded.spec.runbooks["work"].steps
    assert step.config.startswith("bash <<'OPSBOOK_SCRIPT'\n#!/bin/bash")
    assert step.confirm is True and step.irreversible is True
    assert set(result.loaded.spec.env) == {"API_URL"}


def test_a_python_script_is_a_note_not_shell() -> None:
    body = "```bash\n#!/usr/bin/env python3\nimport os\nprint(os.getcwd())\n```\n\n```bash\nls\n```"
    result = import_text(_runbook(body), "RUNBOOK.md")
    assert [s.config for s in result.loaded.spec.runbooks["work"].steps] == ["ls"]
    assert any(u.note and "python3 script" in u.why for u in result.draft.unmapped)


def test_cd_applies_after_itself_only() -> None:
    steps = _steps(
        "```bash\ngit clone https://example.com/r.git\ncd r\nmake\n```\n\n"
        "```bash\ncd r\nmake test\n```"
    )
    assert [(s.config, s.dir) for s in steps] == [
        ("git clone https://example.com/r.git", None),
        ("make", "r"),
        ("make test", "r"),  # the same cd again is not glued onto itself
    ]


def test_bare_ssh_turns_the_rest_of_the_block_into_gate_items() -> None:
    (gate,) = _steps("```bash\nssh ops@db-1\nsudo systemctl restart postgresql\nrm -rf /tmp/x\n```")
    assert gate.kind == "gate"
    assert gate.config == [
        "Open `ssh ops@db-1` and work in it",
        "In it, run: `sudo systemctl restart postgresql`",
        "In it, run: `rm -rf /tmp/x`",
    ]


def test_an_or_comment_in_a_block_is_the_other_branch() -> None:
    result = import_text(
        _runbook(
            "```bash\n# Roll back\nkubectl rollout undo deploy/api\n"
            "# Or pin an image\nkubectl set image deploy/api api=api:1\n"
            "# Check\nkubectl get pods\n```"
        ),
        "RUNBOOK.md",
    )
    runbook = result.loaded.spec.runbooks["work"]
    assert runbook.params["choice"].choices == ["roll-back", "pin-an-image"]
    conditions = [s.if_ for s in runbook.steps]
    assert conditions == [
        "${{ params.choice == 'roll-back' }}",
        "${{ params.choice == 'pin-an-image' }}",
        None,  # the check after the alternative runs either way
    ]


@pytest.mark.parametrize(
    "line",
    [
        "export VERSION=1.4.0  # replace with the release",
        "export VERSION=",
    ],
)
def test_an_export_to_replace_is_a_param(line: str) -> None:
    result = import_text(_runbook(f"```bash\n{line}\necho $VERSION\n```"), "RUNBOOK.md")
    runbook = result.loaded.spec.runbooks["work"]
    assert runbook.params["version"].required
    (step,) = runbook.steps
    assert step.env == {"VERSION": "${{ params.version }}"}


def test_env_blocks_and_placeholder_assignments_are_contract_entries() -> None:
    body = (
        "```env\nSTRIPE_SECRET_KEY=<sk>\nPORT=8080\nnot a line\n```\n\n"
        "```bash\nSENTRY_DSN=<dsn>\nnpm start\n```"
    )
    result = import_text(_runbook(body), "RUNBOOK.md")
    env = result.loaded.spec.env
    assert env["STRIPE_SECRET_KEY"].secret and env["STRIPE_SECRET_KEY"].required
    assert env["PORT"].example == "8080" and not env["PORT"].secret
    assert env["SENTRY_DSN"].secret and env["SENTRY_DSN"].required
    assert any("not NAME=value" in u.why for u in result.draft.unmapped)


def test_hostile_commands_classify_without_crashing() -> None:
    assert classify("(" * 5000) == Class.CHANGES
    assert classify("echo '" + "x" * (MAX_PARSE + 10)) == Class.READ_ONLY
    assert classify("rm -rf / ; " * 3000) == Class.DESTRUCTIVE
    assert classify("\x00\x1b[31m") == Class.CHANGES


def test_a_placeholder_host_is_a_var_that_plan_warns_about() -> None:
    from opsbook.plan import make_plan

    result = import_text(_runbook("```bash\ncurl http://YOUR_SERVER_IP/api/health\n```"), "R.md")
    check = next(iter(result.loaded.spec.checks.values()))
    assert check.config.http == "${{ vars.BASE_URL }}/api/health"
    plan = make_plan(result.loaded, "work", "production", {}, process_env={})
    assert any("vars.BASE_URL" in w and "placeholder" in w for w in plan.warnings)
