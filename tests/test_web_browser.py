"""The dashboard in a real browser: Playwright drives Debian's chromium (never a downloaded
browser) against a real `opsbook serve` on 127.0.0.1. Screenshots of every page are saved under
tests/artifacts/screenshots/ (gitignored) for a person to look at."""

from __future__ import annotations

import re
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from web_support import Serve, chromium_or_skip, make_token, make_user, project, serving, wait_until
from web_support import browser as chromium

SHOTS = Path(__file__).resolve().parent / "artifacts" / "screenshots"

STEPS = (
    "\n".join(
        f"      - id: s{n:02d}\n        run: sleep 0.6; echo step {n} done" for n in range(1, 10)
    )
    + "\n      - id: window\n        gate: [On-call engineer is aware, Status page updated]\n"
    + "\n".join(
        f"      - id: s{n:02d}\n        run: sleep 0.1; echo step {n} done" for n in range(11, 21)
    )
)

SITE = f"""\
version: 1
project: shop
environments:
  production: {{protected: true}}
severities:
  P1: {{respond: 15m, description: Checkout down}}
flags:
  new-checkout:
    description: The rewritten checkout
    default: false
    enabled: true
    rollout: {{percent: 10, stickiness: userId}}
runbooks:
  release:
    params: {{version: {{required: true}}}}
    steps:
{STEPS}
"""

chromium_or_skip()


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    root = project(tmp_path_factory.mktemp("browser"), SITE)
    store_url = f"sqlite:///{root / 'state.db'}"
    operator = make_token(root, store_url, "operator", "release-bot")
    make_user(root, store_url, "alice", "approver", "correct horse")
    with serving(root, store_url) as served:
        yield {"serve": served, "operator": operator}


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    with chromium() as launched:
        yield launched


@pytest.fixture(scope="module")
def shots() -> Path:
    shutil.rmtree(SHOTS, ignore_errors=True)
    SHOTS.mkdir(parents=True)
    return SHOTS


# Its steps sleep 6.4 s by design (a person watches the release progress live); in a loaded
# suite the rest (a server, a browser, eleven pages) can take the other 24 s on its own.
@pytest.mark.timeout(60)
@pytest.mark.slow
def test_an_approver_watches_a_release_approves_acks_kills_and_audits(
    site: dict[str, Any], browser: Any, shots: Path
) -> None:
    from playwright.sync_api import expect

    served: Serve = site["serve"]
    page = browser.new_page(viewport={"width": 1280, "height": 900})
    page.set_default_timeout(30_000)

    # Log in (the dashboard sends strangers to the login page).
    page.goto(f"{served.url}/runs")
    expect(page).to_have_url(re.compile(r"/login\?next=/runs$"))
    page.screenshot(path=shots / "01-login.png", full_page=True)
    page.get_by_label("User name").fill("alice")
    page.get_by_label("Password").fill("correct horse")
    page.get_by_role("button", name="Log in").click()
    expect(page).to_have_url(re.compile(r"/runs$"))
    expect(page.get_by_text("user:alice (approver)")).to_be_visible()

    # A bot starts a 20-step release; alice watches it progress without reloading.
    with served.client(site["operator"]) as api:
        started = api.post(
            "/api/v1/runs",
            json={"runbook": "release", "env": "production", "params": {"version": "2.4"}},
        )
    assert started.status_code == 202, started.text
    run_id = started.json()["id"]
    page.goto(f"{served.url}/runs/{run_id}")
    first = page.locator("#progress-text").inner_text()
    page.wait_for_function(
        "() => parseInt(document.querySelector('#progress-text').textContent) >= 5"
    )
    assert page.locator("#progress-text").inner_text() != first
    page.screenshot(path=shots / "02-run-progress.png", full_page=True)
    gate = page.get_by_role("heading", name="Gate window is waiting")
    expect(gate).to_be_visible()  # appeared live, through SSE
    expect(page.locator("#progress-text")).to_have_text("9/20 steps done")
    page.screenshot(path=shots / "03-gate.png", full_page=True)

    # Approving needs every checklist item ticked and takes a note.
    page.get_by_label("On-call engineer is aware").check()
    page.get_by_label("Status page updated").check()
    page.get_by_label("Note").fill("status page updated at 14:02")
    page.get_by_role("button", name="Approve").click()
    expect(page.locator("#run-status")).to_have_text("succeeded", timeout=60_000)
    expect(page.locator("#progress-text")).to_have_text("20/20 steps done")
    expect(
        page.get_by_role("cell", name="status page updated at 14:02", exact=True)
    ).to_be_visible()
    page.screenshot(path=shots / "04-run-done.png", full_page=True)

    # Ack an incident.
    with served.client(site["operator"]) as api:
        opened = api.post("/api/v1/incidents", json={"title": "Checkout 500s", "severity": "P1"})
    assert opened.status_code == 201, opened.text
    page.get_by_role("link", name="Incidents").click()
    page.screenshot(path=shots / "05-incidents.png", full_page=True)
    page.get_by_role("link", name=opened.json()["ref"]).click()
    page.get_by_role("button", name="Acknowledge").click()
    expect(page.locator("#incident-status")).to_have_text("acknowledged")
    page.screenshot(path=shots / "06-incident-acked.png", full_page=True)

    # Flip the kill switch.
    page.get_by_role("link", name="Flags").click()
    page.get_by_label("Reason").fill("checkout errors")
    page.get_by_role("button", name="Kill new-checkout").click()
    expect(page.get_by_role("heading", name="Flag new-checkout")).to_be_visible()
    expect(page.get_by_role("cell", name="checkout errors")).to_be_visible()
    page.get_by_role("link", name="Flags").click()
    expect(page.locator("#flag-new-checkout")).to_contain_text("off")
    page.screenshot(path=shots / "07-flags.png", full_page=True)

    # Alerts, silences and SLO budgets render.
    page.get_by_role("link", name="Alerts & SLOs").click()
    expect(page.get_by_role("heading", name="SLO error budgets")).to_be_visible()
    page.screenshot(path=shots / "08-alerts.png", full_page=True)

    # The handoff report renders.
    page.get_by_role("link", name="Handoff").click()
    expect(page.get_by_role("heading", name="Handoff report")).to_be_visible()
    page.screenshot(path=shots / "08-handoff-report.png", full_page=True)

    # Each action is in the audit log, under alice's name.
    page.get_by_role("link", name="Audit log").click()
    expect(page.locator("#chain")).to_contain_text("hash chain intact")
    rows = page.locator("tbody tr")
    for event in ("gate_approved", "incident_acknowledged", "flag_changed"):
        expect(rows.filter(has_text=event).filter(has_text="user:alice").first).to_be_visible()
    page.screenshot(path=shots / "09-audit.png", full_page=True)
    page.get_by_role("link", name="Releases").click()
    expect(page.get_by_text("approved window by user:alice")).to_be_visible()
    page.screenshot(path=shots / "10-releases.png", full_page=True)
    page.close()


def test_pages_read_without_javascript_and_the_keyboard_reaches_the_content(
    site: dict[str, Any], browser: Any
) -> None:
    from playwright.sync_api import expect

    served: Serve = site["serve"]
    context = browser.new_context(java_script_enabled=False)
    page = context.new_page()
    page.set_default_timeout(30_000)
    page.goto(f"{served.url}/login")
    page.get_by_label("User name").fill("alice")
    page.get_by_label("Password").fill("correct horse")
    page.keyboard.press("Enter")  # submit from the keyboard
    expect(page).to_have_url(re.compile(r"/runs$"))
    page.keyboard.press("Tab")
    expect(page.get_by_role("link", name="Skip to content")).to_be_focused()
    rows = page.locator("tbody tr")
    wait_until(lambda: rows.count() >= 1, timeout=10)
    expect(page.get_by_role("columnheader", name="Runbook")).to_be_visible()
    context.close()
