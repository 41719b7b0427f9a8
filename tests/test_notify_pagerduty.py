"""The PagerDuty Events v2 receiver against a real HTTP server on 127.0.0.1 (its events URL is a
setting): the server checks every body as PagerDuty's Events API v2 does; a firing alert group
triggers, its resolution resolves with the same dedup_key; the routing key, given through an
environment variable, never shows in output, in the store or in the project's files; a refused
event stays in the outbox, and its error names the receiver, not the key or the URL."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from tests.conftest import run_cli
from tests.waiting import wait_until

ROUTING_KEY = "R0ut1ngK3yF0rTh3T3st0000000000ab"  # 32 characters, as PagerDuty's
SEVERITIES = {"critical", "error", "warning", "info"}

PROJECT = """\
version: 1
project: shop
env:
  PD_ROUTING_KEY: {{secret: true, description: "PagerDuty Events v2 integration key"}}
metrics:
  errors_value: {{command: "cat errors.txt"}}
alerts:
  errors: {{when: errors_value > 0, severity: critical, summary: "errors seen"}}
notify:
  receivers:
    pager:
      pagerduty: {{routing_key: "${{{{ env.PD_ROUTING_KEY }}}}", url: "{url}"}}
  route: {{receiver: pager, group_by: [alertname], group_wait: 0s, group_interval: 0s}}
"""


def problems(event: Any) -> list[str]:
    """What PagerDuty's Events API v2 would refuse in this body (its documented rules)."""
    if not isinstance(event, dict):
        return ["not an object"]
    found = []
    if not (isinstance(event.get("routing_key"), str) and len(event["routing_key"]) == 32):
        found.append("routing_key")
    if event.get("event_action") not in ("trigger", "acknowledge", "resolve"):
        found.append("event_action")
    key = event.get("dedup_key")
    if not (isinstance(key, str) and 0 < len(key) <= 255):
        found.append("dedup_key")
    if event.get("event_action") == "trigger":
        payload = event.get("payload") or {}
        if not (isinstance(payload.get("summary"), str) and 0 < len(payload["summary"]) <= 1024):
            found.append("payload.summary")
        if not payload.get("source"):
            found.append("payload.source")
        if payload.get("severity") not in SEVERITIES:
            found.append("payload.severity")
    return found


class PagerDuty:
    """Records valid events (202, as PagerDuty answers); refuses invalid ones (400) and every
    event while ``refusing`` is set."""

    def __init__(self) -> None:
        self.events: list[dict[str, Any]] = []
        self.refused: list[str] = []
        self.refusing = False
        owner = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                try:
                    event = json.loads(body)
                except ValueError:
                    event = None
                wrong = problems(event) if self.path == "/v2/enqueue" else ["path"]
                if wrong or owner.refusing:
                    owner.refused.append(",".join(wrong) or "refusing")
                    self._answer(400, {"status": "invalid event", "errors": wrong})
                    return
                owner.events.append(event)
                self._answer(202, {"status": "success", "dedup_key": event["dedup_key"]})

            def _answer(self, status: int, body: dict[str, Any]) -> None:
                data = json.dumps(body).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/v2/enqueue"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()


@pytest.fixture
def pagerduty() -> Iterator[PagerDuty]:
    pd = PagerDuty()
    yield pd
    pd.server.shutdown()
    pd.server.server_close()


def _watch(root: Path, now: str) -> str:
    done = run_cli("watch", "--once", "--now", now, cwd=root, env={"PD_ROUTING_KEY": ROUTING_KEY})
    assert done.returncode in (0, 1), done.stderr
    return done.stdout + done.stderr


def _leaks(root: Path, outputs: list[str]) -> list[str]:
    """Where the routing key shows: outputs, or any file of the project but opsbook.yaml."""
    found = [f"output {i}" for i, text in enumerate(outputs) if ROUTING_KEY in text]
    for path in root.rglob("*"):
        if path.is_file() and ROUTING_KEY.encode() in path.read_bytes():
            found.append(str(path.relative_to(root)))
    return found


def test_trigger_then_resolve_with_one_dedup_key_and_no_leak(
    tmp_path: Path, pagerduty: PagerDuty
) -> None:
    (tmp_path / "opsbook.yaml").write_text(PROJECT.format(url=pagerduty.url))
    (tmp_path / "errors.txt").write_text("3\n")
    outputs = [_watch(tmp_path, "2026-12-01T10:00:00Z")]
    (tmp_path / "errors.txt").write_text("0\n")
    outputs.append(_watch(tmp_path, "2026-12-01T10:01:00Z"))
    events = run_cli("events", "--json", cwd=tmp_path)
    outputs.append(events.stdout + events.stderr)

    assert pagerduty.refused == []
    trigger, resolve = pagerduty.events
    assert trigger["routing_key"] == ROUTING_KEY and resolve["routing_key"] == ROUTING_KEY
    assert (trigger["event_action"], resolve["event_action"]) == ("trigger", "resolve")
    assert trigger["dedup_key"] == resolve["dedup_key"]  # one incident per alert group
    payload = trigger["payload"]
    assert payload["severity"] == "critical" and payload["source"]
    assert "errors" in payload["summary"] and payload["summary"].startswith("[FIRING:1]")
    assert payload["custom_details"]["alerts"][0]["annotations"]["summary"] == "errors seen"
    assert _leaks(tmp_path, outputs) == []


def test_a_refused_event_stays_queued_and_its_error_names_only_the_receiver(
    tmp_path: Path, pagerduty: PagerDuty
) -> None:
    (tmp_path / "opsbook.yaml").write_text(PROJECT.format(url=pagerduty.url))
    (tmp_path / "errors.txt").write_text("1\n")
    pagerduty.refusing = True
    outputs = [_watch(tmp_path, "2026-12-01T10:00:00Z")]
    assert pagerduty.refused == ["refusing"] and pagerduty.events == []
    pagerduty.refusing = False

    def retried() -> bool:  # the outbox tries again once its backoff (2 s) has passed
        outputs.append(_watch(tmp_path, "2026-12-01T10:00:30Z"))
        return bool(pagerduty.events)

    wait_until(retried, interval=0.5, what="the queued event to be sent again")
    assert [e["event_action"] for e in pagerduty.events] == ["trigger"]
    assert any("pager" in text and "400" in text for text in outputs), outputs
    assert not any(pagerduty.url in text for text in outputs)
    assert _leaks(tmp_path, outputs) == []


@pytest.mark.parametrize(
    ("url", "routing_key"),
    [("file:///etc/passwd", "k"), ("gopher://127.0.0.1/", "k"), ("http://127.0.0.1/", "")],
)
def test_a_bad_events_url_or_empty_key_is_refused_at_its_line(
    tmp_path: Path, url: str, routing_key: str
) -> None:
    text = PROJECT.format(url=url).replace("${{ env.PD_ROUTING_KEY }}", routing_key)
    (tmp_path / "opsbook.yaml").write_text(text)
    done = run_cli("validate", cwd=tmp_path)
    assert done.returncode == 2, done.stdout + done.stderr
    assert "opsbook.yaml:12" in done.stderr and "Traceback" not in done.stderr
