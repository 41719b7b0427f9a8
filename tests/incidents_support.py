"""A project for the incident tests: Kigali business hours with Rwanda's holidays, a weekly
on-call rotation, and the escalation of seed 003 (on-call → tech lead after 1 h → manager)."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from zoneinfo import ZoneInfo

from opsbook.spec.loader import LoadedSpec, load_spec

KIGALI = ZoneInfo("Africa/Kigali")

SPEC = """\
version: 1
project: shop
environments:
  production: {}
  staging: {protected: true}
calendars:
  business-hours:
    timezone: Africa/Kigali
    hours: "09:00-17:00"
    holidays: {country: RW}
severities:
  P1: {respond: 15m, postmortem: true, alerts: [critical]}
  P3: {respond: next-business-day, calendar: business-hours, page: false}
contacts:
  aline: {name: Aline, receivers: [team-slack]}
  bosco: {name: Bosco, receivers: [team-slack]}
  tech-lead: {name: Chantal, receivers: [phone]}
  eng-manager: {name: Didier, receivers: [phone]}
oncall:
  primary:
    rotation: weekly
    handoff: "mon 09:00"
    timezone: Africa/Kigali
    start: 2026-11-02
    members: [aline, bosco]
escalation:
  default:
    - {notify: oncall:primary, ack_within: 1h}
    - {notify: tech-lead, ack_within: 1h}
    - {notify: eng-manager}
runbooks:
  daily:
    steps:
      - {id: checklist, run: echo checked >> ran.txt}
schedules:
  daily-checklist: {cron: "0 9 * * 1-5", runbook: daily, env: production, timezone: Africa/Kigali}
"""


def kigali(year: int, month: int, day: int, hour: int, minute: int = 0) -> dt.datetime:
    return dt.datetime(year, month, day, hour, minute, tzinfo=KIGALI).astimezone(dt.UTC)


def write_project(root: Path, text: str = SPEC) -> LoadedSpec:
    root.mkdir(parents=True, exist_ok=True)
    (root / "opsbook.yaml").write_text(text)
    return load_spec(root / "opsbook.yaml")
