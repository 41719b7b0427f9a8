"""opsbook's webhook body against a real Alertmanager (Debian's prometheus-alertmanager, 0.25),
byte for byte: Alertmanager, on 127.0.0.1 with a temp config, sends a group of two alerts to a
webhook receiver; opsbook's builder, given the same alerts, must write the same bytes. Labels and
annotations hold what Go's encoder and Python's json.dumps write differently (<, >, &, U+2028,
\\b, \\f, non-ASCII). The fingerprints and the order of the alerts are opsbook's too: Prometheus'
label-set fingerprint, and Alertmanager's order (job, instance, then the label sets)."""

from __future__ import annotations

import json
import os
import queue
import shutil
import threading
from collections.abc import Iterator
from datetime import datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx
import pytest

from opsbook.monitor.labels import alertmanager_order, fingerprint
from opsbook.notify.payload import AlertItem, webhook_message
from opsbook.notify.routing import group_key
from web_support import daemon, free_port, wait_until

ALERTMANAGER = shutil.which("prometheus-alertmanager") or shutil.which("alertmanager")
pytestmark = pytest.mark.skipif(
    ALERTMANAGER is None and not os.environ.get("CI"),
    reason="Debian package prometheus-alertmanager not installed (.ci/run installs it)",
)

HIGH = {
    "labels": {"alertname": "HighErrors", "severity": "critical", "route": "/pay?a=1&b=<2>"},
    "annotations": {"summary": "errors > 5% at <café>\u2028next line", "raw": "tab\tbell\b\f"},
    "startsAt": "2026-12-01T10:00:00.5Z",
    "generatorURL": "http://127.0.0.1:9090/graph?g0.expr=rate%3E0.05",
}
LOW = {
    "labels": {"alertname": "HighErrors", "severity": "critical", "route": "/cart"},
    "annotations": {"summary": "errors > 5% at <café>\u2028next line"},
    "startsAt": "2026-12-01T10:00:01.25Z",
}

# Alertmanager lists a notification's alerts by job, then instance (alerts without one after),
# then by label set (fewer labels first): this order is not the fingerprints' or the routes'.
BY_JOB = {"labels": {**LOW["labels"], "route": "/y", "job": "api"}, "annotations": {},
          "startsAt": "2026-12-01T10:00:02Z"}  # fmt: skip
BY_INSTANCE = {"labels": {**LOW["labels"], "route": "/x", "instance": "10.0.0.7:80"},
               "annotations": {}, "startsAt": "2026-12-01T10:00:03Z"}  # fmt: skip
FEWER = {"labels": {"alertname": "HighErrors", "route": "/z"}, "annotations": {},
         "startsAt": "2026-12-01T10:00:04Z"}  # fmt: skip
ALL = [HIGH, LOW, BY_JOB, BY_INSTANCE, FEWER]


@pytest.fixture
def receiver() -> Iterator[tuple[int, queue.Queue[bytes]]]:
    """A webhook receiver on 127.0.0.1 that keeps each body it is sent."""
    bodies: queue.Queue[bytes] = queue.Queue()

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            bodies.put(self.rfile.read(int(self.headers["Content-Length"])))
            self.send_response(200)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", free_port()), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield server.server_address[1], bodies
    server.shutdown()
    server.server_close()


@pytest.fixture
def alertmanager(tmp_path: Path, receiver: tuple[int, queue.Queue[bytes]]) -> Iterator[str]:
    """Alertmanager routing every alert, grouped by alertname at once, to the receiver."""
    assert ALERTMANAGER is not None, "prometheus-alertmanager must be installed under CI"
    port = free_port()
    (tmp_path / "alertmanager.yml").write_text(
        "route: {receiver: hook, group_by: [alertname], group_wait: 0s, group_interval: 1s,"
        " repeat_interval: 1h}\n"
        "receivers:\n- name: hook\n  webhook_configs:\n"
        f"  - {{url: 'http://127.0.0.1:{receiver[0]}/hook', send_resolved: true}}\n"
    )
    url = f"http://127.0.0.1:{port}"
    cmd = [
        ALERTMANAGER,
        f"--config.file={tmp_path / 'alertmanager.yml'}",
        f"--storage.path={tmp_path / 'data'}",
        f"--web.listen-address=127.0.0.1:{port}",
        f"--web.external-url={url}",
        "--cluster.listen-address=",  # one instance: no gossip port
    ]
    with daemon(cmd, tmp_path / "alertmanager.log") as proc:

        def ready() -> bool:
            if proc.poll() is not None:
                pytest.fail((tmp_path / "alertmanager.log").read_text())
            try:
                return httpx.get(url + "/-/ready", timeout=2).status_code == 200
            except httpx.HTTPError:
                return False

        wait_until(ready, timeout=30, what="Alertmanager to be ready")
        yield url


def _time(text: str | None) -> float | None:
    return None if text is None else datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp()


def _ours(theirs: bytes, sent: dict[str, dict[str, Any]], external_url: str) -> bytes:
    """opsbook's body for the alerts Alertmanager reported (the group may not hold all yet), in
    opsbook's order, with opsbook's fingerprints; each alert's status and times are what was
    sent to it."""
    reported = {a["labels"]["route"] for a in json.loads(theirs)["alerts"]}
    items = []
    for given in alertmanager_order(
        [sent[route] for route in reported], lambda given: given["labels"]
    ):
        ends = _time(given.get("endsAt"))
        items.append(
            AlertItem(
                "resolved" if ends is not None else "firing",
                given["labels"],
                given["annotations"],
                _time(given["startsAt"]),
                ends,
                fingerprint(given["labels"]),
                given.get("generatorURL", ""),
            )
        )
    labels = HIGH["labels"]
    return webhook_message(
        receiver="hook",
        group_key=group_key("{}", ["alertname"], labels),
        group_labels={"alertname": labels["alertname"]},
        alerts=items,
        external_url=external_url,
    )


def _post(url: str, alerts: list[dict[str, Any]]) -> None:
    reply = httpx.post(url + "/api/v2/alerts", json=alerts, timeout=10)
    assert reply.status_code == 200, reply.text


@pytest.mark.timeout(60)
def test_the_webhook_body_is_alertmanagers_byte_for_byte(
    alertmanager: str, receiver: tuple[int, queue.Queue[bytes]]
) -> None:
    bodies = receiver[1]
    sent = {a["labels"]["route"]: dict(a) for a in ALL}
    _post(alertmanager, ALL)
    first = bodies.get(timeout=30)
    while len(json.loads(first)["alerts"]) < len(ALL):  # they may arrive a group apart
        first = bodies.get(timeout=30)
    routes = [a["labels"]["route"] for a in json.loads(first)["alerts"]]
    assert routes == ["/y", "/x", "/z", "/cart", "/pay?a=1&b=<2>"]
    assert first == _ours(first, sent, alertmanager)
    assert b"\\u2028" in first and b"\\u0008" in first and b"\\u0026" in first  # it was tested

    resolved = {**LOW, "endsAt": "2026-12-01T10:05:00.25Z"}
    sent["/cart"] = resolved
    _post(alertmanager, [resolved])
    second = bodies.get(timeout=30)
    statuses = sorted(a["status"] for a in json.loads(second)["alerts"])
    assert statuses == ["firing"] * 4 + ["resolved"], second
    assert second == _ours(second, sent, alertmanager)
