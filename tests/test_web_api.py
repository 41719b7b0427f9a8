"""The HTTP API of a real `opsbook serve` on 127.0.0.1: runs, gates, SSE, problems, roles."""

from __future__ import annotations

import json
import signal
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from conftest import run_cli
from engine_support import rows
from opsbook.store import schema
from web_support import (
    FAST,
    PROJECT,
    Serve,
    make_token,
    make_user,
    project,
    run_status,
    serving,
    start_serve,
    step_statuses,
    wait_until,
)

PASSWORD = "correct horse"  # pragma: allowlist secret
PROJECT_WITH_SEVERITIES = PROJECT + "severities:\n  P1: {respond: 15m, description: Site down}\n"


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    """One project and one server for the module (starting a server costs a second or two)."""
    root = project(tmp_path_factory.mktemp("site"))
    store_url = f"sqlite:///{root / 'state.db'}"
    tokens = {
        role: make_token(root, store_url, role, f"{role}-token")
        for role in ("viewer", "operator", "approver", "admin")
    }
    make_user(root, store_url, "alice", "approver", "correct horse")
    with serving(root, store_url) as served:
        yield {"root": root, "store_url": store_url, "tokens": tokens, "serve": served}


def _client(site: dict[str, Any], role: str | None = None) -> httpx.Client:
    served: Serve = site["serve"]
    return served.client(site["tokens"][role] if role else None)


def _start(site: dict[str, Any], runbook: str = "release", **params: str) -> str:
    if runbook == "release":
        params.setdefault("version", "7")
    with _client(site, "operator") as api:
        reply = api.post(
            "/api/v1/runs",
            json={"runbook": runbook, "env": "local", "params": params},
        )
    assert reply.status_code == 202, reply.text
    assert reply.json()["status"] == "queued"
    run_id: str = reply.json()["id"]
    return run_id


def _wait_status(api: httpx.Client, run_id: str, *statuses: str) -> dict[str, Any]:
    found: dict[str, Any] = wait_until(
        lambda: (d := run_status(api, run_id))["run"]["status"] in statuses and d,
        timeout=60,
        what=f"run {run_id} to be {statuses}",
    )
    return found


def test_a_run_started_over_the_api_waits_at_its_gate_and_an_approver_lets_it_finish(
    site: dict[str, Any],
) -> None:
    run_id = _start(site)
    with _client(site, "approver") as api:
        _wait_status(api, run_id, "waiting")
        assert step_statuses(api, run_id) == {
            "build": "succeeded",
            "window": "waiting",
            "deploy": "pending",
        }
        reply = api.post(
            f"/api/v1/runs/{run_id}/steps/window/approve", json={"note": "status page is up"}
        )
        assert reply.status_code == 200, reply.text
        assert reply.json()["operator"] == "token:approver-token"
        detail = _wait_status(api, run_id, "succeeded")
    assert detail["run"]["operator"] == "token:operator-token"
    [approval] = detail["approvals"]
    assert (approval["decision"], approval["operator"], approval["note"]) == (
        "approved",
        "token:approver-token",
        "status page is up",
    )
    actors = {(e["type"], e["actor"]) for e in detail["events"]}
    assert ("run_created", "token:operator-token") in actors
    assert ("gate_approved", "token:approver-token") in actors


def test_a_rejected_gate_fails_the_run(site: dict[str, Any]) -> None:
    run_id = _start(site)
    with _client(site, "approver") as api:
        _wait_status(api, run_id, "waiting")
        reply = api.post(f"/api/v1/runs/{run_id}/steps/window/reject", json={"note": "no"})
        assert reply.status_code == 200 and reply.json()["decision"] == "rejected"
        detail = _wait_status(api, run_id, "failed", "rolled_back")
    assert detail["steps"][-1]["status"] != "succeeded"


def test_events_stream_as_sse_from_the_backlog_to_the_end(site: dict[str, Any]) -> None:
    run_id = _start(site, "quick")
    seen: list[dict[str, Any]] = []
    ended = False
    with _client(site, "viewer") as api, api.stream("GET", f"/api/v1/runs/{run_id}/events") as r:
        assert r.status_code == 200
        assert r.headers["content-type"].startswith("text/event-stream")
        for line in r.iter_lines():
            if line.startswith("data: ") and line != "data: {}":
                seen.append(json.loads(line[6:]))
            if line == "event: end":
                ended = True
                break
    types = [e["type"] for e in seen]
    assert ended and types[0] == "run_created" and types[-1] == "run_finished"
    assert [e["seq"] for e in seen] == sorted({e["seq"] for e in seen})  # once each, in order
    # Resuming from Last-Event-ID sends only what came after.
    last = seen[-2]["seq"]
    with _client(site, "viewer") as api:
        again = api.get(f"/api/v1/runs/{run_id}/events", headers={"Last-Event-ID": str(last)})
    ids = [int(line[4:]) for line in again.text.splitlines() if line.startswith("id: ")]
    assert ids == [seen[-1]["seq"]]


def _epoch_times(value: Any, where: str = "") -> list[str]:
    """Where a JSON document has a number under a time key (``at``, ``*_at``, ``since``...)."""
    from opsbook.isotime import _is_time_key

    found = []
    if isinstance(value, dict):
        for key, item in value.items():
            if _is_time_key(key) and isinstance(item, int | float):
                found.append(f"{where}.{key}")
            found += _epoch_times(item, f"{where}.{key}")
    elif isinstance(value, list):
        for index, item in enumerate(value):
            found += _epoch_times(item, f"{where}[{index}]")
    return found


def test_every_time_the_api_gives_is_iso_8601(site: dict[str, Any]) -> None:
    """As in every --json of the CLI: runs, a run's record, its events, releases, incidents,
    alerts, silences, links."""
    run_id = _start(site, "quick")
    with _client(site, "admin") as api:
        _wait_status(api, run_id, "succeeded")
        silence = {"matchers": ['a="b"'], "comment": "maintenance"}
        assert api.post("/api/v1/silences", json=silence).status_code == 201
        waiting = _start(site)
        _wait_status(api, waiting, "waiting")
        link = api.post(f"/api/v1/runs/{waiting}/steps/window/link", json={})
        documents = {
            path: api.get(path).json()
            for path in (
                "/api/v1/runs",
                f"/api/v1/runs/{run_id}",
                "/api/v1/releases",
                "/api/v1/incidents",
                "/api/v1/alerts",
                "/api/v1/silences",
            )
        }
        documents["link"] = link.json()
        events = api.get(f"/api/v1/runs/{run_id}/events").text
        api.post(f"/api/v1/runs/{waiting}/abort")  # the environment is free for the next test
        _wait_status(api, waiting, "aborted", "rolled_back")
    documents["events"] = [
        json.loads(line[6:])
        for line in events.splitlines()
        if line.startswith("data: {") and line != "data: {}"  # {}: the end of the stream
    ]
    assert documents["events"]
    assert all(e["at"].endswith("Z") for e in documents["events"])
    assert documents["link"]["expires_at"].endswith("Z")
    assert {path: _epoch_times(doc) for path, doc in documents.items()} == {
        path: [] for path in documents
    }
    for path in ("/api/v1/runs", "/api/v1/silences"):
        assert documents[path] and all(
            isinstance(v, str) for k, v in documents[path][0].items() if k.endswith("_at") and v
        ), documents[path]


def _routes(site: dict[str, Any]) -> list[tuple[str, str]]:
    with _client(site) as api:
        schema = api.get("/openapi.json").json()
    return [
        (method.upper(), path.replace("{run_id}", "last").replace("{step}", "window"))
        for path, item in schema["paths"].items()
        for method in item
        if path != "/healthz"
    ]


def test_every_route_but_healthz_needs_credentials(site: dict[str, Any]) -> None:
    routes = _routes(site)
    assert len(routes) >= 12
    with _client(site) as api:
        for method, path in routes:
            reply = api.request(method, path, json={})
            assert reply.status_code == 401, (method, path, reply.status_code)
            problem = reply.json()
            assert reply.headers["content-type"] == "application/problem+json"
            assert problem["code"] == "unauthenticated" and problem["status"] == 401
        assert api.get("/healthz").status_code == 200


def test_a_viewer_may_read_but_every_mutation_answers_403(site: dict[str, Any]) -> None:
    with _client(site, "viewer") as api:
        for method, path in _routes(site):
            reply = api.request(method, path, json={"runbook": "quick", "env": "local"})
            if method == "GET":
                # Read access: an answer, or "no such thing" for the placeholder ids.
                assert reply.status_code in (200, 400, 404), (path, reply.text)
            else:
                assert reply.status_code == 403, (method, path, reply.text)
                assert reply.json()["code"] == "forbidden"


def test_an_operator_cannot_approve(site: dict[str, Any]) -> None:
    run_id = _start(site)
    with _client(site, "operator") as api:
        _wait_status(api, run_id, "waiting")
        reply = api.post(f"/api/v1/runs/{run_id}/steps/window/approve", json={"note": ""})
        assert reply.status_code == 403
        assert "needs approver" in reply.json()["detail"]
        api.post(f"/api/v1/runs/{run_id}/abort")


@pytest.mark.parametrize(
    ("body", "status", "code"),
    [
        ({"runbook": "nope", "env": "local"}, 400, "usage"),
        ({"runbook": "release", "env": "local"}, 400, "bad_param"),
        ({"runbook": "release", "env": "mars", "params": {"version": "1"}}, 400, "usage"),
        ({"runbook": "x" * 5000, "env": "local"}, 422, "invalid_request"),
        ({"runbook": "release", "env": "local", "params": {"version": ["a"]}}, 422, None),
        ({"env": "local"}, 422, "invalid_request"),
    ],
)
def test_bad_requests_are_problem_details(
    site: dict[str, Any], body: dict[str, Any], status: int, code: str | None
) -> None:
    with _client(site, "operator") as api:
        reply = api.post("/api/v1/runs", json=body)
    problem = reply.json()
    assert reply.headers["content-type"] == "application/problem+json"
    assert problem["status"] == reply.status_code
    assert {"type", "title", "detail", "instance", "code"} <= set(problem)
    if code == "usage" or code == "bad_param":
        assert reply.status_code in (400, 404) and problem["code"] in ("usage", "bad_param")
    else:
        assert reply.status_code == status
    assert "Traceback" not in reply.text


def test_unknown_runs_are_404_problems(site: dict[str, Any]) -> None:
    with _client(site, "viewer") as api:
        reply = api.get("/api/v1/runs/no-such-run")
    assert reply.status_code == 404 and reply.json()["code"] == "run_not_found"


def test_verify_log_and_releases(site: dict[str, Any]) -> None:
    with _client(site, "viewer") as api:
        chain = api.get("/api/v1/verify-log")
        releases = api.get("/api/v1/releases")
        audit = api.get("/api/v1/audit", params={"limit": 5})
    assert chain.status_code == 200 and chain.json()["ok"] is True
    assert releases.status_code == 200 and isinstance(releases.json(), list)
    assert audit.status_code == 200 and len(audit.json()) == 5


def test_a_signed_link_approves_once_as_its_approver(site: dict[str, Any]) -> None:
    run_id = _start(site)
    with _client(site, "approver") as api:
        _wait_status(api, run_id, "waiting")
        link = api.post(f"/api/v1/runs/{run_id}/steps/window/link").json()
    url = link["url"]
    with httpx.Client(timeout=30) as anonymous:
        _use_link(site, run_id, url, anonymous)
    with _client(site, "viewer") as api:
        detail = _wait_status(api, run_id, "succeeded")
    assert detail["approvals"][0]["note"] == "from chat"


def _use_link(site: dict[str, Any], run_id: str, url: str, anonymous: httpx.Client) -> None:
    page = anonymous.get(url)  # what a chat unfurler does: changes nothing
    assert page.status_code == 200 and "Gate window" in page.text
    with _client(site, "viewer") as api:
        assert step_statuses(api, run_id)["window"] == "waiting"
    done = anonymous.post(url, data={"decision": "approve", "note": "from chat"})
    assert done.status_code == 200 and "approved by token:approver-token" in done.text
    again = anonymous.post(url, data={"decision": "approve"})
    assert again.status_code == 401 and "already used" in again.text
    forged = anonymous.post(url[:-3] + "AAA", data={"decision": "approve"})
    assert forged.status_code == 401


def test_a_viewer_cannot_make_approval_links(site: dict[str, Any]) -> None:
    with _client(site, "viewer") as api:
        assert api.post("/api/v1/runs/last/steps/window/link").status_code == 403


def test_login_sets_a_strict_httponly_cookie_and_forms_need_the_csrf_token(
    site: dict[str, Any],
) -> None:
    served: Serve = site["serve"]
    with httpx.Client(base_url=served.url, timeout=30) as browser:
        bad = browser.post("/login", data={"username": "alice", "password": "nope"})
        assert bad.status_code == 401 and "wrong user name or password" in bad.text
        good = browser.post(
            "/login", data={"username": "alice", "password": PASSWORD, "next": "//evil"}
        )
        assert good.status_code == 303 and good.headers["location"] == "/runs"
        cookie = good.headers["set-cookie"].lower()
        assert "httponly" in cookie and "samesite=strict" in cookie and "secure" not in cookie
        assert browser.get("/runs").status_code == 200
        me = browser.get("/api/v1/me").json()
        assert me == {"actor": "user:alice", "kind": "user", "name": "alice", "role": "approver"}
        # A form without the CSRF token is refused, with or without a made-up one.
        no_csrf = browser.post("/runs/last/abort", headers={"accept": "application/json"})
        assert no_csrf.status_code == 403 and "CSRF" in no_csrf.text
        forged = browser.post("/api/v1/runs/last/abort", headers={"X-CSRF-Token": "x"})
        assert forged.status_code == 403


def test_failed_logins_from_one_address_are_rate_limited(tmp_path: Path) -> None:
    root = project(tmp_path)
    store_url = f"sqlite:///{root / 'state.db'}"
    with serving(root, store_url) as served, httpx.Client(base_url=served.url) as browser:
        codes = [
            browser.post("/login", data={"username": f"u{i}", "password": "x"}).status_code
            for i in range(11)
        ]
    assert codes[:10] == [401] * 10 and codes[10] == 429


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("--host", "0.0.0.0"), "is not loopback"),
        (("--host", "10.1.2.3", "--tls-cert", "c.pem"), "--tls-cert and --tls-key go together"),
        (("--port", "99999"), "--port"),
    ],
)
def test_serve_refuses_plain_http_off_loopback(
    tmp_path: Path, args: tuple[str, ...], message: str
) -> None:
    root = project(tmp_path)
    done = run_cli(
        "serve",
        *args,
        cwd=root,
        env={**FAST, "OPSBOOK_DATABASE_URL": f"sqlite:///{root}/s.db"},
        timeout=60,
    )
    assert done.returncode == 2 and message in done.stderr
    assert "Traceback" not in done.stderr


SLOW = """\
version: 1
project: shop
environments:
  local: {}
runbooks:
  slow:
    steps:
      - id: first
        run: echo first >> ran.txt
      - id: long
        idempotent: true
        run: echo long >> ran.txt; sleep 10; echo long-done >> ran.txt
      - id: last
        run: echo last >> ran.txt
"""


@pytest.mark.slow
@pytest.mark.timeout(90)  # two serves and a lease handed over: ~13 s alone, 15 s in the suite
def test_sigterm_hands_the_run_in_flight_back_and_another_serve_finishes_it(
    tmp_path: Path,
) -> None:
    root = project(tmp_path, SLOW)
    store_url = f"sqlite:///{root / 'state.db'}"
    token = make_token(root, store_url, "operator", "ops")
    first = start_serve(root, store_url)
    try:
        with first.client(token) as api:
            run_id = api.post("/api/v1/runs", json={"runbook": "slow", "env": "local"}).json()["id"]
            wait_until(lambda: step_statuses(api, run_id)["long"] == "running", timeout=60)
        assert first.stop(signal.SIGTERM, timeout=30) == 0
    finally:
        if first.proc.poll() is None:
            first.stop(signal.SIGKILL)
    # Handed back at once: no lease left to expire, the step in flight recorded as interrupted.
    [run] = rows(store_url, schema.runs, id=run_id)
    assert (run.status, run.lease_owner) == ("running", None)
    assert [e.type for e in rows(store_url, schema.events, run_id=run_id)][-1] == "run_interrupted"
    with serving(root, store_url) as second, second.client(token) as api:
        wait_until(lambda: run_status(api, run_id)["run"]["status"] == "succeeded", timeout=90)
    lines = (root / "ran.txt").read_text().split()
    assert lines.count("first") == 1 and lines.count("last") == 1
    assert lines.count("long-done") == 1  # the idempotent step ran again to its end, once


def test_serve_mounts_ofrep_behind_the_same_tokens(site: dict[str, Any]) -> None:
    with _client(site, "viewer") as api:
        bulk = api.post("/ofrep/v1/evaluate/flags", json={"context": {"targetingKey": "u1"}})
    assert bulk.status_code == 200, bulk.text
    assert bulk.json()["flags"] == []
    with _client(site) as anonymous:
        refused = anonymous.post("/ofrep/v1/evaluate/flags", json={"context": {}})
    assert refused.status_code == 401


def test_the_alertmanager_intake_needs_an_operator_token(site: dict[str, Any]) -> None:
    alert = [{"labels": {"alertname": "HighErrorRate", "severity": "critical"}}]
    with _client(site) as anonymous:
        assert anonymous.post("/api/v2/alerts", json=alert).status_code == 401
    with _client(site, "viewer") as api:
        assert api.post("/api/v2/alerts", json=alert).status_code == 403
    with _client(site, "operator") as api:
        accepted = api.post("/api/v2/alerts", json=alert)
    assert accepted.status_code == 200, accepted.text


LONE = b"\\ud800"  # valid JSON, but no text: it cannot be stored, hashed or answered


@pytest.mark.parametrize(
    ("path", "body", "status", "where"),
    [
        (
            "/api/v1/incidents",
            b'{"title": "db ' + LONE + b'", "severity": "P1"}',
            422,
            "body.title",
        ),
        ("/api/v1/silences", b'{"matchers": ["a=' + LONE + b'"]}', 422, "body.matchers.0"),
        (
            "/api/v1/runs",
            b'{"runbook": "r", "env": "e", "params": {"v": "' + LONE + b'"}}',
            422,
            "body.params.v",
        ),
        (
            "/api/v2/alerts",
            b'[{"labels": {"alertname": "A", "x": "' + LONE + b'"}}]',
            400,
            "alerts[0].labels.x",
        ),
        ("/api/v2/alerts", b"[" * 200_000, 400, "not JSON"),
    ],
    ids=["incident", "silence", "run", "intake-label", "intake-nesting"],
)
def test_json_that_is_not_text_is_refused_naming_the_value_and_the_server_goes_on(
    site: dict[str, Any], path: str, body: bytes, status: int, where: str
) -> None:
    headers = {"Content-Type": "application/json"}
    with _client(site, "operator") as api:
        refused = api.post(path, content=body, headers=headers)
        assert refused.status_code == status, refused.text
        assert where in refused.text and "Traceback" not in refused.text
        assert api.get("/api/v1/me").status_code == 200  # the same server answers on


def test_serve_now_moves_the_clock_of_incidents_but_not_of_runs(tmp_path: Path) -> None:
    """`serve --now` is a drill's clock: an incident opened over the API is opened at that time
    (and the clock runs on from it), while a run started beside it keeps the real time."""
    from datetime import UTC, datetime, timedelta

    root = project(tmp_path / "p", PROJECT_WITH_SEVERITIES)
    store_url = f"sqlite:///{root / 'state.db'}"
    token = make_token(root, store_url, "operator", "op")
    drill = datetime(2026, 11, 30, 9, tzinfo=UTC)
    with (
        serving(root, store_url, "--now", "2026-11-30T09:00:00Z") as served,
        served.client(token) as api,
    ):
        opened = api.post("/api/v1/incidents", json={"title": "drill", "severity": "P1"})
        assert opened.status_code == 201, opened.text
        at = datetime.fromisoformat(opened.json()["opened_at"].replace("Z", "+00:00"))
        assert 0 <= (at - drill).total_seconds() < 60
        due = datetime.fromisoformat(opened.json()["due_at"].replace("Z", "+00:00"))
        assert due - at == timedelta(minutes=15)  # the severity's response time
        started = api.post("/api/v1/runs", json={"runbook": "quick", "env": "local", "params": {}})
        run = _wait_status(api, started.json()["id"], "succeeded")["run"]
    assert run["created_at"] > "2026-12-01"  # runs keep the real clock (ISO 8601, as all times)


def test_serve_refuses_a_now_it_cannot_read(tmp_path: Path) -> None:
    root = project(tmp_path / "p")
    done = run_cli("serve", "--port", "0", "--now", "yesterday-ish", cwd=root)
    assert done.returncode == 2, done.stdout + done.stderr
    assert "--now" in done.stderr and "traceback" not in done.stderr.lower()
