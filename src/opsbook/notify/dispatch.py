"""From alert states to queued notifications: routing, grouping, timers, silences, inhibition.

Runs after each evaluation (under the ``notify.dispatch`` tick lease). A group (receiver + group
key) is notified ``group_wait`` after its first alert fires, again ``group_interval`` after its
last notification when its alerts changed (a new one fires, one resolves), and every
``repeat_interval`` while it stays the same and something fires. The notification counter of a
group is stored with it and is part of the outbox dedup key, so a group is never notified twice
for the same change.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING

from opsbook.monitor.labels import alertmanager_order, label_digest
from opsbook.monitor.state import AlertState
from opsbook.notify.payload import AlertItem, webhook_message
from opsbook.notify.routing import Delivery, all_match, group_key, route
from opsbook.notify.silences import list_silences, silenced

if TYPE_CHECKING:
    from opsbook.monitor.evaluate import AlertStatus
    from opsbook.spec.loader import LoadedSpec
    from opsbook.store import Store


@dataclass
class Group:
    receiver: str
    key: str
    delivery: Delivery
    labels: dict[str, str]
    alerts: list[AlertStatus] = field(default_factory=list)


def inhibited(status: AlertStatus, firing: list[AlertStatus], loaded: LoadedSpec) -> bool:
    notify = loaded.spec.notify
    if notify is None:
        return False
    for rule in notify.inhibit:
        if not all_match(rule.target_matchers, status.labels):
            continue
        for source in firing:
            if source is status or not all_match(rule.source_matchers, source.labels):
                continue
            if all(source.labels.get(k) == status.labels.get(k) for k in rule.equal):
                return True
    return False


def plan_groups(
    loaded: LoadedSpec, statuses: list[AlertStatus], now: datetime, store: Store
) -> list[Group]:
    """The groups of alerts that are firing or resolved, with silenced and inhibited ones out."""
    notify = loaded.spec.notify
    if notify is None or notify.route is None:
        return []
    stored = list_silences(store, loaded.spec.project)
    firing = [s for s in statuses if s.state == AlertState.FIRING]
    groups: dict[tuple[str, str], Group] = {}
    for status in statuses:
        resolved = status.state == AlertState.INACTIVE and status.instance.resolved_at is not None
        if status.state != AlertState.FIRING and not resolved:
            continue
        if status.state == AlertState.FIRING and (
            silenced(status.labels, stored, notify.silences, now)
            or inhibited(status, firing, loaded)
        ):
            continue
        for delivery in route(notify.route, status.labels):
            key = group_key(delivery.route_key, delivery.group_by, status.labels)
            group = groups.get((delivery.receiver, key))
            if group is None:
                names = [g for g in delivery.group_by if g in status.labels]
                group_labels = {g: status.labels[g] for g in names}
                group = Group(delivery.receiver, key, delivery, group_labels)
                groups[(delivery.receiver, key)] = group
            group.alerts.append(status)
    return list(groups.values())


def dispatch(store: Store, loaded: LoadedSpec, now: datetime) -> list[int]:
    """Queue every notification due at ``now``; returns the new outbox ids."""
    from opsbook.monitor.evaluate import load_statuses
    from opsbook.notify.outbox import notify as enqueue
    from opsbook.store.outbox import drop_group, group_row, save_group

    project = loaded.spec.project
    at = now.timestamp()
    statuses = list(load_statuses(store, project).values())
    queued: list[int] = []
    receivers = loaded.spec.notify.receivers if loaded.spec.notify else {}
    for group in plan_groups(loaded, statuses, now, store):
        with store.begin() as conn:
            row = group_row(conn, project, group.receiver, group.key)
        last_sent = row.last_sent_at if row is not None else None
        # A resolved alert belongs to the group until the notification after it resolved.
        alerts = [
            a
            for a in group.alerts
            if a.state == AlertState.FIRING
            or (
                a.instance.resolved_at is not None
                and (last_sent is None or a.instance.resolved_at > last_sent)
                and row is not None
            )
        ]
        firing = [a for a in alerts if a.state == AlertState.FIRING]
        if not alerts:
            continue
        digest = hashlib.sha256(
            "|".join(sorted(f"{label_digest(a.labels)}:{a.state.value}" for a in alerts)).encode()
        ).hexdigest()
        first_at = row.first_at if row is not None else at
        seq = row.seq if row is not None else 0
        d = group.delivery
        if row is None or last_sent is None:
            due = at >= first_at + d.group_wait
        elif digest != row.digest:
            due = at >= last_sent + d.group_interval
        else:
            due = bool(firing) and at >= last_sent + d.repeat_interval
        if not due:
            if row is None:
                with store.begin() as conn:
                    save_group(
                        conn,
                        {
                            "project": project,
                            "receiver": group.receiver,
                            "group_key": group.key,
                            "first_at": first_at,
                            "seq": 0,
                        },
                    )
            continue
        receiver = receivers.get(group.receiver)
        send = bool(firing) or (receiver is not None and receiver.send_resolved)
        items = [
            AlertItem(
                status="firing" if a.state == AlertState.FIRING else "resolved",
                labels=a.labels,
                annotations=a.annotations,
                starts_at=a.instance.firing_since or a.instance.active_at or a.instance.resolved_at,
                ends_at=None if a.state == AlertState.FIRING else a.instance.resolved_at,
                fingerprint=a.fingerprint,
            )
            for a in alertmanager_order(alerts, lambda a: a.labels)
        ]
        body = webhook_message(
            receiver=group.receiver, group_key=group.key, group_labels=group.labels, alerts=items
        )
        if send:
            dedup = hashlib.sha256(f"{group.key}#{seq + 1}".encode()).hexdigest()
            row_id = enqueue(
                store, loaded, group.receiver, body, group_key=group.key, dedup_key=dedup, now=at
            )
            if row_id is not None:
                queued.append(row_id)
        with store.begin() as conn:
            if firing:
                save_group(
                    conn,
                    {
                        "project": project,
                        "receiver": group.receiver,
                        "group_key": group.key,
                        "first_at": first_at,
                        "last_sent_at": at,
                        "digest": digest,
                        "seq": seq + 1,
                    },
                )
            else:
                drop_group(conn, project, group.receiver, group.key)
    return queued
