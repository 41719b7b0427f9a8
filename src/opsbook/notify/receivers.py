"""Sending one stored notification to one receiver: a webhook (the v4 JSON as stored),
PagerDuty Events v2, or any Apprise URL (Slack, email, Discord, Teams...).

Receiver settings are rendered when sending, so secrets (``${{ env.SLACK_URL }}``) are never
stored in the outbox; errors name the receiver, never its URL.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from typing import Any

from opsbook.notify.config import Receiver


class SendError(Exception):
    """The receiver did not take the notification; the outbox tries again later."""


def send(name: str, receiver: Receiver, body: bytes, render: Callable[[str], str]) -> None:
    """Deliver ``body`` (an Alertmanager v4 message) to the receiver; SendError if it fails."""
    if receiver.webhook is not None:
        _webhook(name, receiver, body, render)
    elif receiver.pagerduty is not None:
        _pagerduty(name, receiver, json.loads(body), render)
    else:
        _apprise(name, receiver, json.loads(body), render)


def _post(name: str, url: str, content: bytes, headers: dict[str, str], timeout: float) -> None:
    import httpx

    try:
        response = httpx.post(url, content=content, headers=headers, timeout=timeout)
    except httpx.HTTPError as err:
        raise SendError(f"receiver {name}: {type(err).__name__}") from None
    if response.status_code >= 300:
        raise SendError(f"receiver {name}: HTTP {response.status_code}")


def _webhook(name: str, receiver: Receiver, body: bytes, render: Callable[[str], str]) -> None:
    assert receiver.webhook is not None
    headers = {"Content-Type": "application/json", "User-Agent": "opsbook"}
    headers.update({k: render(v) for k, v in receiver.webhook.headers.items()})
    _post(name, render(receiver.webhook.url), body, headers, receiver.timeout)


def summary(message: dict[str, Any]) -> tuple[str, str]:
    """A title and a text body for chat and pager receivers."""
    alerts = message.get("alerts", [])
    firing = [a for a in alerts if a["status"] == "firing"]
    labels = message.get("groupLabels") or {}
    what = ", ".join(f"{k}={v}" for k, v in labels.items()) or "alerts"
    title = f"[{message['status'].upper()}{':' + str(len(firing)) if firing else ''}] {what}"
    lines = []
    for alert in alerts:
        text = alert["annotations"].get("summary") or alert["labels"].get("alertname", "")
        lines.append(f"{alert['status']}: {text}")
    return title, "\n".join(lines)


def _pagerduty(
    name: str, receiver: Receiver, message: dict[str, Any], render: Callable[[str], str]
) -> None:
    assert receiver.pagerduty is not None
    title, _ = summary(message)
    severity = (message.get("commonLabels") or {}).get("severity", "error")
    event = {
        "routing_key": render(receiver.pagerduty.routing_key),
        "event_action": "trigger" if message["status"] == "firing" else "resolve",
        "dedup_key": hashlib.sha256(message["groupKey"].encode()).hexdigest(),
        "payload": {
            "summary": title[:1024],
            "source": "opsbook",
            "severity": severity
            if severity in ("critical", "error", "warning", "info")
            else "error",
            "custom_details": {"alerts": message.get("alerts", [])},
        },
    }
    body = json.dumps(event).encode()
    _post(
        name,
        render(receiver.pagerduty.url),
        body,
        {"Content-Type": "application/json"},
        receiver.timeout,
    )


def _apprise(
    name: str, receiver: Receiver, message: dict[str, Any], render: Callable[[str], str]
) -> None:
    import apprise

    urls = receiver.apprise if isinstance(receiver.apprise, list) else [str(receiver.apprise)]
    sender = apprise.Apprise()
    for url in urls:
        if not sender.add(render(url)):
            raise SendError(f"receiver {name}: not an Apprise URL Apprise knows")
    title, body = summary(message)
    if not sender.notify(title=title, body=body):
        raise SendError(f"receiver {name}: Apprise could not deliver")
