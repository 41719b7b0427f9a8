"""The importer's stages on small inputs: each rule of docs/import.md, one test each."""

from __future__ import annotations

from pathlib import Path

import pytest

from conftest import FIXTURES
from opsbook.errors import UsageError
from opsbook.importer import import_file, import_text
from opsbook.importer.envcontract import is_secret
from opsbook.importer.shell import split
from opsbook.plan import make_plan
from opsbook.spec.expressions import render

RELEASE = FIXTURES / "import" / "release.md"


def test_fixture_counts_by_hand() -> None:
    # release.md: env = 4 table rows; checks = the /health curl and /api/health sentence;
    # runbooks = Pre-Flight, Deployment, Verification, "Issue: Checkout Failing" (Monitoring is
    # data); runs = `npm run lint`, build, migrations, tag, worker restart = 5; check steps 2;
    # gates: two checklist boxes (split by the command item), "Deploy … or …", "Manually …"
    # (2 items), diagnosis, "apply the fix" = 6 gates, 7 items.
    c = import_file(RELEASE).counts
    assert (c.env, c.checks, c.runbooks, c.run_steps, c.check_steps, c.gate_steps) == (
        4, 2, 4, 5, 2, 6,
    )  # fmt: skip
    assert c.gate_items == 7
    assert c.operations == {"alerts": 1, "severities": 1}


def test_env_table_in_any_column_order() -> None:
    env = import_file(RELEASE).loaded.spec.env
    assert env["DATABASE_URL"].required and env["DATABASE_URL"].secret  # URL with credentials
    assert env["DATABASE_URL"].service == "Supabase"
    assert env["NEXT_PUBLIC_SITE_URL"].required and not env["NEXT_PUBLIC_SITE_URL"].secret
    assert not env["POSTHOG_HOST"].required
    assert env["POSTHOG_HOST"].default == "https://app.posthog.com"
    assert env["STRIPE_SECRET_KEY"].secret


@pytest.mark.parametrize(
    ("name", "secret"),
    [
        ("STRIPE_SECRET_KEY", True),
        ("GITHUB_TOKEN", True),
        ("DB_PASSWORD", True),
        ("SUPABASE_SERVICE_ROLE_KEY", True),
        ("SENTRY_DSN", True),
        ("REDIS_URL", True),
        ("DATABASE_URL", True),
        ("NEXT_PUBLIC_SUPABASE_ANON_KEY", False),
        ("VITE_STRIPE_KEY", False),
        ("SUPABASE_URL", False),
        ("POSTHOG_HOST", False),
    ],
)
def test_secret_names(name: str, secret: bool) -> None:
    assert is_secret(name) is secret


def test_url_with_credentials_is_secret_by_its_value() -> None:
    assert is_secret("BROKER", "amqp://user:pa55@host/vhost")  # pragma: allowlist secret
    assert not is_secret("BROKER", "amqp://host/vhost")


def test_env_bullet_list_with_optional() -> None:
    text = (
        "# R\n\n## Deploy\n\n**Environment Variables:**\n"
        "- `API_KEY`\n- `REDIS_URL` (optional)\n\n1. `make deploy`\n"
    )
    env = import_text(text, "R.md").loaded.spec.env
    assert env["API_KEY"].required and env["API_KEY"].secret
    assert not env["REDIS_URL"].required


def test_shell_groups_keep_multiline_constructs() -> None:
    content = (
        "# Loop\n"
        "for x in a b; do\n  echo $x\ndone\n"
        "# Heredoc\n"
        "psql <<'EOF'\nSELECT 'it''s';\nEOF\n"
        "# Quote over lines\n"
        'psql -c "\nSELECT 1;\n"\n'
        "\n"
        "gcloud run deploy x \\\n  --region r  # a trailing comment\n"
    )
    groups = split(content, 10)
    assert [g.name for g in groups] == ["Loop", "Heredoc", "Quote over lines", None]
    assert [len(g.commands) for g in groups] == [1, 1, 1, 1]
    assert groups[0].commands[0].text.endswith("done")
    assert groups[1].commands[0].text.endswith("EOF")
    assert groups[2].commands[0].text.count("\n") == 2
    assert groups[3].commands[0].line == 23  # 10 + 13 lines above it


def test_cd_and_export_carry_over_within_a_section() -> None:
    text = (
        "# R\n\n## Build\n\n```bash\n# Go\ncd app\nexport MODE=prod\nmake build\n\n"
        "# Then\nmake test\n```\n\n## Other\n\n```bash\nmake lint\n```\n"
    )
    spec = import_text(text, "R.md").loaded.spec
    build, then = spec.runbooks["build"].steps
    assert (build.dir, build.env, build.config) == ("app", {"MODE": "prod"}, "make build")
    assert then.dir == "app" and then.env == {"MODE": "prod"}
    assert spec.runbooks["other"].steps[0].dir is None


def test_placeholders_become_required_params_and_plan() -> None:
    text = (
        "# R\n\n## Deploy\n\n```bash\n# Link\nsupabase link --project-ref <prod-project-ref>\n```\n"
    )
    result = import_text(text, "R.md")
    runbook = result.loaded.spec.runbooks["deploy"]
    assert runbook.params["prod_project_ref"].required
    plan = make_plan(result.loaded, "deploy", "staging", {"prod_project_ref": "abc"}, {})
    assert plan.steps[0].action == "supabase link --project-ref abc"


def test_env_references_join_the_contract() -> None:
    text = (
        "# R\n\n## Kill\n\n```bash\n"
        'curl -X POST https://x.test/k -H "Authorization: Bearer $ADMIN_TOKEN"\n```\n'
    )
    env = import_text(text, "R.md").loaded.spec.env
    assert env["ADMIN_TOKEN"].secret and not env["ADMIN_TOKEN"].required


def test_literal_template_syntax_is_escaped() -> None:
    text = "# R\n\n## Ship\n\n```bash\necho '${{ not.an.expression }}'\n```\n"
    step = import_text(text, "R.md").loaded.spec.runbooks["ship"].steps[0]
    assert render(step.config, {}) == "echo '${{ not.an.expression }}'"


def test_checklist_command_item_becomes_run() -> None:
    text = "# R\n\n## Pre-flight\n\n- [ ] Notes written\n- [ ] `npm run lint`\n- [x] Team told\n"
    steps = import_text(text, "R.md").loaded.spec.runbooks["pre-flight"].steps
    assert [(s.kind, s.config) for s in steps] == [
        ("gate", "Notes written"),
        ("run", "npm run lint"),
        ("gate", "Team told"),
    ]


def test_health_curl_becomes_a_check_with_method_and_headers() -> None:
    text = '# R\n\n## Verify\n\n```bash\ncurl -I -H "X-Token: $PING_TOKEN" https://a.test/healthz\n```\n'
    spec = import_text(text, "R.md").loaded.spec
    check = spec.checks["a-test-healthz"]
    assert check.method == "HEAD"
    assert check.headers == {"X-Token": "${{ env.PING_TOKEN }}"}
    assert spec.runbooks["verify"].steps[0].config == "a-test-healthz"


def test_report_lists_what_was_not_mapped() -> None:
    result = import_file(RELEASE)
    assert "release.md:3: prose outside any section: How we ship" in result.report


def test_nothing_to_import_is_a_usage_error() -> None:
    with pytest.raises(UsageError, match="no runbook found"):
        import_text("# Title\n\nJust prose.\n", "notes.md")


def test_missing_file_is_a_usage_error(tmp_path: Path) -> None:
    with pytest.raises(UsageError, match="no such file") as info:
        import_file(tmp_path / "nope.md")
    assert info.value.exit_code == 2


def test_a_secret_default_is_never_copied() -> None:
    planted = "sk_" + "live_PLANTED0123456789"  # built at runtime: no live-key literal in git
    text = (
        "# R\n\n## Env\n\n| Variable | Default |\n| --- | --- |\n"
        f"| `STRIPE_SECRET_KEY` | `{planted}` |\n"
        "| `WORKER_URL` | `postgres://app:hunter2x@db/app` |\n\n"  # pragma: allowlist secret
        "## Ship\n\n1. `make ship`\n"
    )
    result = import_text(text, "R.md")
    assert planted not in result.text and "hunter2x" not in result.text
    assert planted not in result.report and "hunter2x" not in result.report
    assert result.loaded.spec.env["WORKER_URL"].secret  # a URL with credentials
    assert "default of a secret variable not copied" in result.report
