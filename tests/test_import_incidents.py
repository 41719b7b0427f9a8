"""x-operations severities, response times, escalation paths and contacts become the
severities, escalation and contacts sections of an imported opsbook.yaml."""

from __future__ import annotations

from pathlib import Path

import pytest

from conftest import SEEDS
from opsbook.importer import import_file, import_text

RUNBOOK = """\
# Operations

## Deploy

```bash
./deploy.sh
```

## Incident severity

**P0 — Critical (Site Down)**
- **Response:** Immediate (within 15 min)
- **Description:** Site completely unavailable

**P3 — Low (Cosmetic Issue)**
- **Response:** Next business day

## Escalation path

1. **On-call engineer** (first responder)
2. **Tech lead** (if issue not resolved in 1 hour)
3. **Engineering manager** (for business impact)
"""


def test_severities_and_escalation_become_sections() -> None:
    spec = import_text(RUNBOOK, "RUNBOOK.md").loaded.spec
    assert spec.severities["P0"].respond == 900
    assert spec.severities["P3"].respond == "next-business-day"
    assert spec.severities["P3"].calendar == "business-hours"
    assert spec.calendars["business-hours"].timezone == "UTC"
    levels = spec.escalation["default"].levels
    assert [(lv.notify, lv.ack_within) for lv in levels] == [
        (["on-call-engineer"], 3600.0),
        (["tech-lead"], 3600.0),
        (["engineering-manager"], None),
    ]
    assert spec.contacts["tech-lead"].name == "Tech lead"
    # Nothing is dropped: the source's entries stay under x-operations too.
    assert "severities" in spec.extensions["x-operations"]


def test_each_item_says_where_it_came_from() -> None:
    text = import_text(RUNBOOK, "RUNBOOK.md").text
    assert "P0:  # from RUNBOOK.md:11" in text
    assert "ack_within: 1h  # from RUNBOOK.md:21" in text  # "not resolved in 1 hour"
    # The manager's line gives no time for the tech lead's wait: assumed, and said so.
    assert text.count("# assumed: the runbook gives no time; review") == 1


def _seed(number: str) -> Path:
    found = sorted(SEEDS.glob(f"{number}_*"))
    if not found:
        pytest.skip("the seed runbooks are not next to this clone")
    return found[0]


def test_seed_003_response_times_escalation_and_contacts() -> None:
    spec = import_file(_seed("003")).loaded.spec
    assert {k: v.respond for k, v in spec.severities.items()} == {
        "critical": 900.0,
        "high": 1800.0,
        "medium": 7200.0,
    }
    assert [lv.notify[0] for lv in spec.escalation["default"].levels] == [
        "on-call-engineer",
        "tech-lead",
        "eng-manager",
        "cto",
    ]
    assert spec.escalation["default"].levels[0].ack_within == 3600.0
    assert spec.contacts["eng-manager"].email == "manager@icupa.app"


def test_seed_004_severities_with_next_business_day() -> None:
    spec = import_file(_seed("004")).loaded.spec
    assert {k: v.respond for k, v in spec.severities.items()} == {
        "P0": 900.0,
        "P1": 3600.0,
        "P2": 14400.0,
        "P3": "next-business-day",
    }
