"""Each of the five real runbooks in ../shared/seeds imports to a file that validates and plans.

The expected counts were counted by hand from the seed text, applying the rules documented in
docs/import.md; each comment says how. "run"/"check"/"gate" are step counts; "items" counts the
lines of all gates (a checklist gate of 7 boxes is 7 items).
"""

from __future__ import annotations

from pathlib import Path

import pytest

from conftest import SEEDS
from opsbook.importer import ImportResult, import_file
from opsbook.plan import make_plan

pytestmark = pytest.mark.skipif(not SEEDS.is_dir(), reason="../shared/seeds is absent")


def seed(prefix: str) -> Path:
    return next(SEEDS.glob(f"{prefix}_*.txt"))


# (env, checks, runbooks, run steps, check steps, gate steps, gate items)
EXPECTED = {
    # 000: env = the 8 table rows (lines 14-21). Runbooks: "2. Database Lifecycle" and
    # "3. Application Deployment" (sections 1, 4, 5 hold a table, dashboards and incident
    # prose). Runs: Database Lifecycle lines 33, 37, 41 (`supabase db reset --seed` after
    # "Execute via"), 47 (snapshot `supabase db dump`) = 4; Admin 59-62 = 4; Platform 69 = 1;
    # Client 78-79 = 2; total 11. Gates: 35 ("or" = a choice), 43 (a script path), 48 ("If")
    # = 3 one-item gates; 64 ("or"); 70+72+74 merged (3 items); 80 → 6 gates, 8 items.
    "000": (8, 0, 2, 11, 0, 6, 8),
    # 001: env = the 8 backticked names of the list at lines 132-137 (line 135 holds three).
    # Runbooks: sections 1, 2, 3, 4, 6 (5 "Observability Hooks" and 7 "Follow-Up" are data).
    # Runs: the fence at 151-154 (one group, no comment) = 1; line 175's lead-in has 9 words
    # and a condition, so it stays a gate. Check: /api/health at 160 → 1 check, 1 step.
    # Gates: 4 checklist items (1 gate); 130, 131 "Confirm the following" (7 sub-items), 139
    # (3 gates, 9 items); 143-146 (1 gate, 4 items); 155 "Manually" (4 items); 161+162
    # (2 items); rollback 173-176 (1 gate, 4 items) → 8 gates, 27 items.
    "001": (8, 1, 5, 1, 1, 8, 27),
    # 002: no env table or list, no $VAR in commands → 0. Runbooks: 2 Daily Checklist,
    # 3 Release Process, 3a, 3b. Runs: fence 221-224, fence 228-230, line 237 "Run `…`" = 3.
    # Check step at 235 naming /api/healthz and /api/health → 2 checks. Gates: daily 4 items
    # (em-dash sentences); release 225 and 239 (2 gates); 3a five items (1 gate); 3b 264+267
    # (1 gate, 2 items; the support contacts go to x-operations) → 5 gates, 13 items.
    "002": (0, 2, 4, 3, 1, 5, 13),
    # 003: env = $VERCEL_TOKEN (240), $DATABASE_URL (303), $ADMIN_TOKEN (543),
    # $SUPABASE_SERVICE_ROLE_KEY (804), and secrets assigned from placeholders: OPENAI_API_KEY,
    # STRIPE_SECRET_KEY (223-224), STRIPE_WEBHOOK_SECRET (329), MOMO_API_KEY, AIRTEL_API_KEY
    # (332-333) = 9 (VITE_* exports become step env, not contract entries).
    # Runbooks: Pre-Deployment Checklist, Environment Setup, Build & Test, Staging Deployment,
    # Production Deployment, Post-Deployment Verification, Rollback Procedures, On-Call
    # Handoff, and the 5 "Issue:" headings = 13.
    # Run steps = comment groups with a command: environment setup 4; build & test
    # 1+3+3+2+3+1+3 = 16 (the export-only group becomes env); staging 4+2+2+2+3+1 = 14 (216's
    # curl is a check); production 5+3+2+2+5+1 = 18 (349's curl -I is a check); verification
    # 1 + 4 SQL groups + 1 = 6; rollback 1+2+2+1+2 = 8; issues 2+2+3+3+4 = 14 → 80.
    # Check steps: 216, 349, 411 (three curls, one step), 753, 773 = 5; checks = 1+1+3+2 = 7.
    # Gates: 5 checklists (25 items), "Edit .env.local" (70), pre-production checklist (8),
    # "CRITICAL: Take database backup" (287), "Monitor metrics" (399), three manual lists
    # (5+4+4), "Check src/lib/performance.ts" (478), two rollback comments (509, 512), the
    # handoff checklist (7), one "apply the fix" gate per issue (5) → 21 gates, 64 items.
    # Issue 11 changed 003: env 9 → 11, the placeholder exports VITE_SUPABASE_URL=<…> and
    # VITE_SUPABASE_ANON_KEY=<…> (145-146, 235, 341) are now contract entries, not params. Runs
    # 80 → 78 and gates 21 → 25 (64 → 68 items): `pnpm dev` and `pnpm dev:agents` (78-79, dev
    # servers that never end) left their one run step for two "watch it" gates, and
    # `npx playwright show-report` (165, serves a report until stopped) is a gate; "# Or via
    # dashboard" (491) is now the other branch of the Vercel rollback, a gate, instead of a note.
    "003": (11, 7, 13, 78, 5, 25, 68),
    # 004: env = Vercel list 55-57 (3) + backend list 74-80 (7) = 10. Runbooks: Deployment,
    # Monitoring (the health curl), 4 issues, Rollback Procedure, Maintenance = 8.
    # Runs: 19-20 (cd backend → dir), 39, 50-51, 67-70 (one group), 250 (`npm audit`),
    # 263, 269, 272, 275 = 9. Checks: /health at 99 and 182 is one check (with the expected
    # `status: ok` of 103-110), 2 check steps. Gates: prerequisites (4), Stripe webhook (3),
    # GitHub webhook (2); issue 1: diagnosis (3), apply the fix (1), dashboard comments (1);
    # issues 2-4: diagnosis + fix lists (3+3 each); rollback 3+3+2; maintenance 3+2+3+2+2
    # → 20 gates, 52 items.
    # Issue 11 changed 004: `npm start` (70) starts a server that never ends, so it left the
    # build's run step for a "watch it" gate: runs stay 9 (`npm run build` alone), gates 20 → 21,
    # items 52 → 53.
    "004": (10, 1, 8, 9, 2, 21, 53),
}


@pytest.fixture(scope="module", params=sorted(EXPECTED))
def imported(request: pytest.FixtureRequest) -> tuple[str, ImportResult]:
    return request.param, import_file(seed(request.param))


def test_counts_match_hand_counts(imported: tuple[str, ImportResult]) -> None:
    prefix, result = imported
    c = result.counts
    got = (c.env, c.checks, c.runbooks, c.run_steps, c.check_steps, c.gate_steps, c.gate_items)
    assert got == EXPECTED[prefix]


def test_every_runbook_plans(imported: tuple[str, ImportResult]) -> None:
    _, result = imported
    for name, runbook in result.loaded.spec.runbooks.items():
        params = {
            p: decl.choices[0] if decl.choices else f"value-{p}"
            for p, decl in runbook.params.items()
            if decl.required
        }
        for env in ("staging", "production"):
            plan = make_plan(result.loaded, name, env, params, process_env={})
            assert [s.id for s in plan.steps]
            assert len(plan.steps) == len(runbook.steps)


def test_every_item_is_traced_to_its_source_line(imported: tuple[str, ImportResult]) -> None:
    prefix, result = imported
    lines = seed(prefix).read_text(encoding="utf-8").splitlines()
    comments = [line for line in result.text.splitlines() if "# from " in line]
    steps = sum(len(r.steps) for r in result.loaded.spec.runbooks.values())
    assert len(comments) >= steps + len(result.loaded.spec.runbooks)
    for comment in comments:
        where = comment.rsplit("# from ", 1)[1]
        number = int(where.rsplit(":", 1)[1])
        assert 1 <= number <= len(lines), comment


def test_seed_000_env_table() -> None:
    env = import_file(seed("000")).loaded.spec.env
    assert list(env) == [
        "SENTRY_DSN",
        "NEXT_PUBLIC_SENTRY_DSN",
        "POSTHOG_API_KEY",
        "POSTHOG_HOST",
        "OPENAI_API_KEY",
        "NEXT_PUBLIC_SUPABASE_URL",
        "NEXT_PUBLIC_SUPABASE_ANON_KEY",
        "SUPABASE_SERVICE_ROLE_KEY",
    ]
    required = {n for n, v in env.items() if v.required}
    assert required == set(env) - {"POSTHOG_HOST", "OPENAI_API_KEY"}  # ⛔️ and ⚠️
    assert {n: v.default for n, v in env.items() if v.default} == {
        "POSTHOG_HOST": "https://app.posthog.com"
    }  # "–" and "empty" are no default
    secret = {n for n, v in env.items() if v.secret}
    assert secret == {
        "SENTRY_DSN",
        "POSTHOG_API_KEY",
        "OPENAI_API_KEY",
        "SUPABASE_SERVICE_ROLE_KEY",
    }  # NEXT_PUBLIC_* are public by design
    assert env["SENTRY_DSN"].service == "Sentry"
    assert env["POSTHOG_HOST"].description.startswith("Override if self-hosting PostHog")


def test_seed_003_alert_rules() -> None:
    ops = import_file(seed("003")).loaded.spec.extensions["x-operations"]
    rules = ops["alerts"]
    assert [r["name"] for r in rules] == [
        "high_error_rate",
        "slow_response_time",
        "database_connection_pool_exhausted",
        "payment_failure_spike",
        "ai_agent_errors",
    ]
    assert rules[0] == {
        "name": "high_error_rate",
        "condition": "error_rate > 5%",
        "window": "5m",
        "severity": "critical",
    }
    assert [(r["window"], r["severity"]) for r in rules[1:]] == [
        ("10m", "high"),
        ("5m", "high"),
        ("5m", "critical"),
        ("10m", "medium"),
    ]
    assert ops["escalation"][0] == {
        "level": 1,
        "who": "On-call engineer",
        "when": "(first responder)",
    }
    assert [s["severity"] for s in ops["severities"]] == ["Critical", "High", "Medium", "Low"]


def test_seed_003_shell_semantics() -> None:
    spec = import_file(seed("003")).loaded.spec
    prod = spec.runbooks["production-deployment"]
    build = prod.step("build-with-production-environment")
    assert build.env == {
        "VITE_SUPABASE_URL": "https://${{ params.prod_project_ref }}.supabase.co",
        "NODE_ENV": "production",
    }
    # issue 11: `export VITE_SUPABASE_ANON_KEY=<prod-anon-key>` (341) is a value to fill in,
    # a required contract entry (from the env file), no longer a `-p` param of the runbook
    assert spec.env["VITE_SUPABASE_ANON_KEY"].required
    assert "prod_anon_key" not in prod.params
    image = prod.step("build-and-tag-production-image")
    assert image.dir == "agents-service"  # `cd agents-service` carries over
    assert prod.step("deploy-with-zero-downtime-strategy").dir == "agents-service"
    deploy = prod.step("deploy-with-zero-downtime-strategy").config
    assert deploy.count("\\\n") == 11  # the continuation lines stay one command
    flags = prod.step("update-agent-runtime-configs-table").config
    assert flags.startswith("psql $DATABASE_URL <<EOF\n") and flags.endswith("\nEOF")
    secrets = prod.step("set-production-secrets").config
    assert "OPENAI_API_KEY=$OPENAI_API_KEY" in secrets  # a secret never becomes a -p param
    assert spec.env["STRIPE_WEBHOOK_SECRET"].secret
    assert prod.params["prod_project_ref"].required
    assert prod.step("critical-take-database-backup-before").kind == "gate"


def test_seed_001_provider_health_check() -> None:
    spec = import_file(seed("001")).loaded.spec
    check = spec.checks["api-health"]
    assert check.http == "${{ vars.BASE_URL }}/api/health"
    assert check.config.expect.jmespath == {
        "length(values(providers)[?status == 'unavailable'])": 0
    }
    assert all("BASE_URL" in e.vars for e in spec.environments.values())
    manual = spec.runbooks["post-deployment-verification"].steps[1]
    assert manual.kind == "gate" and len(manual.config) == 4


def test_seed_004_operations() -> None:
    result = import_file(seed("004"))
    ops = result.loaded.spec.extensions["x-operations"]
    assert [m["file"] for m in ops["migrations"]][:2] == [
        "001_create_user_profiles.sql",
        "002_create_prompt_atoms.sql",
    ]
    assert len(ops["migrations"]) == 12
    assert ops["severities"][0]["level"] == "P0"
    assert ops["severities"][0]["response"] == "Immediate (within 15 min)"
    assert {"name": "API Response Times", "condition": "p95 > 2s"} in ops["alerts"]
    check = result.loaded.spec.checks["your-backend-com-health"]
    assert check.config.expect.json_ == {"status": "ok"}
    issue = result.loaded.spec.runbooks["issue-site-returns-500-error"]
    assert [s.kind for s in issue.steps] == ["gate", "gate", "check", "gate"]


@pytest.mark.parametrize("prefix", sorted(EXPECTED))
def test_cli_import_then_validate(prefix: str, tmp_path: Path) -> None:
    from conftest import run_cli

    imported = run_cli("import", str(seed(prefix)), "--report", "report.md", cwd=tmp_path)
    assert imported.returncode == 0, imported.stderr
    validated = run_cli("validate", cwd=tmp_path)
    assert validated.returncode == 0, validated.stderr
    assert "opsbook.yaml is valid" in validated.stdout
