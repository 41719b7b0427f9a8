"""The durable outbox with a real webhook receiver on 127.0.0.1 and two `opsbook watch`
processes sharing one PostgreSQL store.

The receiver is down (nothing listens on its port) while alerts fire and resolve; when it comes
back it gets every notification, in the order they were queued, and none twice. The suite runs a
5 s outage; the 60 s outage the outbox was built for is a soak test (marker ``soak``), which
`./scripts/test` leaves out and `.ci/run` runs after the suite: no test in the suite may take
more than 30 s.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time
from pathlib import Path

import pytest

import forked
from notify_support import Receiver
from opsbook.notify.payload import AlertItem, go_time, webhook_message
from web_support import free_port, wait_until

PROJECT = """\
version: 1
project: outbox
metrics:
{metrics}
alerts:
{alerts}
notify:
  receivers:
    hook: {{webhook: "{url}"}}
  route: {{receiver: hook, group_by: [alertname], group_wait: 0s, group_interval: 0s}}
"""


def _project(root: Path, url: str, names: list[str]) -> None:
    metrics = "\n".join(f'  {n}_value: {{command: "cat {n}.txt"}}' for n in names)
    alerts = "\n".join(f"  {n}: {{when: {n}_value > 0, severity: critical}}" for n in names)
    (root / "opsbook.yaml").write_text(PROJECT.format(metrics=metrics, alerts=alerts, url=url))
    for n in names:
        (root / f"{n}.txt").write_text("0\n")


def _watch(root: Path, store: str, index: int) -> subprocess.Popen[str]:
    env = {**os.environ, "OPSBOOK_DATABASE_URL": store, "NO_COLOR": "1"}
    with (root / f"watch{index}.log").open("w") as log:
        return forked.opsbook(
            ["watch", "--interval", "0.3s", "--json"],
            cwd=root,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
            text=True,
        )


def _outbox(store_url: str) -> list[tuple[int, str, str | None]]:
    from sqlalchemy import create_engine, inspect, text

    engine = create_engine(store_url.replace("postgresql://", "postgresql+psycopg://", 1))
    try:
        with engine.connect() as conn:
            if not inspect(conn).has_table("opsbook_outbox"):
                return []  # the watchers have not created the store yet
            rows = conn.execute(
                text("SELECT id, payload, sent_at FROM opsbook_outbox ORDER BY id")
            ).all()
    finally:
        engine.dispose()
    return [(int(r[0]), str(r[1]), r[2]) for r in rows]


@pytest.mark.postgres
@pytest.mark.slow
@pytest.mark.parametrize(
    "down_for",
    [
        pytest.param(5.0, id="5s"),
        # The outbox's contract: the receiver is really down for 60 s.
        pytest.param(60.0, id="60s", marks=[pytest.mark.soak, pytest.mark.timeout(240)]),
    ],
)
def test_a_receiver_that_was_down_gets_every_notification_in_order_once(
    tmp_path: Path, fresh_pg_url: str, down_for: float
) -> None:
    names = ["a1", "a2", "a3", "a4"]
    receiver = Receiver(free_port())
    _project(tmp_path, receiver.url, names)
    watchers = [_watch(tmp_path, fresh_pg_url, i) for i in range(2)]
    try:
        started = time.monotonic()
        # While the receiver is down: each alert fires in turn, then the first two resolve.
        for count, name in enumerate(names, start=1):
            (tmp_path / f"{name}.txt").write_text("1\n")
            wait_until(
                lambda count=count: len(_outbox(fresh_pg_url)) >= count,  # type: ignore[misc]
                timeout=30,
                what=f"{name} firing queued",
            )
        # One at a time: written together, an evaluation could read a1 before its write and a2
        # after its own, and queue a2's resolution first.
        for count, name in enumerate(names[:2], start=len(names) + 1):
            (tmp_path / f"{name}.txt").write_text("0\n")
            wait_until(
                lambda count=count: len(_outbox(fresh_pg_url)) >= count,  # type: ignore[misc]
                timeout=30,
                what=f"{name} resolution queued",
            )
        assert receiver.received() == []
        time.sleep(max(down_for - (time.monotonic() - started), 0))  # the outage itself
        assert all(sent is None for _, _, sent in _outbox(fresh_pg_url))
        receiver.start()
        queued = _outbox(fresh_pg_url)
        wait_until(
            lambda: len(receiver.received()) >= len(queued),
            timeout=60,
            what="every queued notification delivered",
        )
        time.sleep(2)  # a duplicate would arrive within a few watch intervals
        got = receiver.received()
        assert [body.decode() for body in got] == [payload for _, payload, _ in queued]
        assert len({json.loads(b)["groupKey"] + json.loads(b)["status"] for b in got}) == len(got)
        statuses = [(json.loads(b)["groupKey"], json.loads(b)["status"]) for b in got]
        assert statuses == [
            ('{}:{alertname="a1"}', "firing"),
            ('{}:{alertname="a2"}', "firing"),
            ('{}:{alertname="a3"}', "firing"),
            ('{}:{alertname="a4"}', "firing"),
            ('{}:{alertname="a1"}', "resolved"),
            ('{}:{alertname="a2"}', "resolved"),
        ]
        assert all(sent is not None for _, _, sent in _outbox(fresh_pg_url))
    finally:
        receiver.stop()
        for proc in watchers:
            proc.send_signal(signal.SIGTERM)
        for proc in watchers:
            try:
                proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
    assert [p.returncode for p in watchers] == [0, 0]


def test_webhook_body_is_alertmanagers_v4_json_byte_for_byte() -> None:
    """The bytes Alertmanager 0.25 writes for one firing and one resolved alert (Go's encoder:
    fields in declaration order, sorted label maps, <>& escaped, zero time for no end)."""
    body = webhook_message(
        receiver="hook",
        group_key='{}:{alertname="HighErrors"}',
        group_labels={"alertname": "HighErrors"},
        alerts=[
            AlertItem(
                "firing",
                {"severity": "critical", "alertname": "HighErrors"},
                {"summary": "rate > 5% <now>"},
                1764583200.0,
                None,
                "0123456789abcdef",
            ),
            AlertItem(
                "resolved",
                {"alertname": "HighErrors", "severity": "critical"},
                {"summary": "ok & calm"},
                1764583200.5,
                1764583500.25,
                "fedcba9876543210",  # pragma: allowlist secret
            ),
        ],
    )
    assert body == (
        b'{"receiver":"hook","status":"firing","alerts":['
        b'{"status":"firing","labels":{"alertname":"HighErrors","severity":"critical"},'
        b'"annotations":{"summary":"rate \\u003e 5% \\u003cnow\\u003e"},'
        b'"startsAt":"2025-12-01T10:00:00Z","endsAt":"0001-01-01T00:00:00Z",'
        b'"generatorURL":"","fingerprint":"0123456789abcdef"},'
        b'{"status":"resolved","labels":{"alertname":"HighErrors","severity":"critical"},'
        b'"annotations":{"summary":"ok \\u0026 calm"},'
        b'"startsAt":"2025-12-01T10:00:00.5Z","endsAt":"2025-12-01T10:05:00.25Z",'
        b'"generatorURL":"","fingerprint":"fedcba9876543210"}],'  # pragma: allowlist secret
        b'"groupLabels":{"alertname":"HighErrors"},'
        b'"commonLabels":{"alertname":"HighErrors","severity":"critical"},'
        b'"commonAnnotations":{},"externalURL":"","version":"4",'
        b'"groupKey":"{}:{alertname=\\"HighErrors\\"}","truncatedAlerts":0}\n'
    )
    assert go_time(None) == "0001-01-01T00:00:00Z"
