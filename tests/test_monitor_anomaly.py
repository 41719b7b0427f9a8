"""Anomaly bands over recorded JSON logs (written by tests/loggen.py), at exact evaluation times.

- ``error_spike`` (EWMA of the 5-minute error rate, 4 deviations, ``for: 2m``): the incident
  of 09:00 puts one minute of 30% errors into the window at 09:01, far outside a band learnt
  from 1% (pending), fires at 09:03, and at 09:06 the baseline has learnt the step ending
  09:05 (all incident), which widens the band around the new level (resolved): an EWMA flags
  changes, not levels.
- ``slower_than_last_week`` (10-minute mean latency against the same instant 7 days earlier,
  band ×/÷ 2, the anomaly's ``for: 10m``): requests take 4 s from 10:00 to 10:30; pending at
  10:01, firing at 10:11, resolved at 10:40 when the window holds no slow request.
"""

from __future__ import annotations

import json
import re
from datetime import datetime, timedelta
from pathlib import Path

import pytest

from conftest import run_cli
from loggen import Incident, Traffic, write
from monitor_support import FIXTURES, START, as_expected, at, stored_transitions
from opsbook.monitor.anomaly import Band, ewma
from opsbook.monitor.config import Anomaly
from opsbook.monitor.replay import replay
from opsbook.spec.loader import load_spec

EXPECTED = [
    ("09:01", "error_spike", "alert.pending"),
    ("09:03", "error_spike", "alert.firing"),
    ("09:06", "error_spike", "alert.resolved"),
    ("10:01", "slower_than_last_week", "alert.pending"),
    ("10:11", "slower_than_last_week", "alert.firing"),
    ("10:40", "slower_than_last_week", "alert.resolved"),
]


@pytest.fixture(scope="module")
def project(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Five hours of today's traffic (an error spike at 09:00, slow requests at 10:00) and the
    same five hours a week earlier, as two log files of one source."""
    root = tmp_path_factory.mktemp("shop")
    (root / "opsbook.yaml").write_text((FIXTURES / "anomaly.yaml").read_text())
    write(root / "logs" / "last-week.jsonl", Traffic(START - timedelta(days=7), 300, seed=5))
    today = Traffic(
        START,
        300,
        incidents=[
            Incident(START + timedelta(hours=1), 10, error_rate=0.3),
            Incident(START + timedelta(hours=2), 30, slow_ms=4000),
        ],
    )
    write(root / "logs" / "app.jsonl", today)
    return root


def test_replay_gives_each_anomaly_pending_firing_resolved_at_the_right_minute(
    project: Path,
) -> None:
    result = replay(load_spec(project / "opsbook.yaml"), at("08:30"), at("13:00"), 60)
    assert as_expected(result.transitions) == EXPECTED


@pytest.mark.timeout(120)  # an evaluation per minute, each on a reopened store
def test_stored_evaluations_with_a_restart_before_each_give_the_same_transitions(
    project: Path, tmp_path: Path
) -> None:
    """The baseline is recomputed from the logs at each ``now``: evaluations on a store opened
    anew each minute (as new processes would) give the replay's transitions."""
    loaded = load_spec(project / "opsbook.yaml")
    url = f"sqlite:///{tmp_path / 'state.db'}"
    ranges = [("08:58", "09:08"), ("09:59", "10:13"), ("10:38", "10:41")]
    changes = stored_transitions(loaded, url, ranges)
    assert as_expected(changes) == EXPECTED


def test_monitor_eval_fires_on_an_anomaly_and_replay_prints_it(project: Path) -> None:
    for minute in ("09:01", "09:02"):
        run_cli("monitor", "eval", "--now", f"2026-11-30T{minute}:00Z", cwd=project)
    fired = run_cli("monitor", "eval", "--now", "2026-11-30T09:03:00Z", "--json", cwd=project)
    assert fired.returncode == 1, fired.stderr
    states = {a["alert"]: a["state"] for a in json.loads(fired.stdout)["alerts"]}
    assert states["error_spike"] == "firing"
    shown = run_cli(
        "monitor", "replay", "--from", "2026-11-30T08:58:00Z", "--to", "2026-11-30T09:10:00Z",
        "--every", "1m", "--json", cwd=project,
    )  # fmt: skip
    assert shown.returncode == 0, shown.stderr
    assert "error_spike" in shown.stdout and "alert.firing" in shown.stdout


def test_bands_and_their_edges() -> None:
    mean, deviation = ewma([1.0, 3.0], 0.5)
    assert (mean, deviation) == (2.0, 1.0)  # West: mean 1 + 0.5·2, variance 0.5·(0 + 2·1)
    assert Band({}, 5.0, 0.0, 4.0).outside is True
    assert Band({}, 4.0, 0.0, 4.0).outside is False
    assert Band({}, None, 0.0, 4.0).outside is None  # no value: no data, not "inside"
    from opsbook.monitor.anomaly import band

    week = Anomaly(baseline="last-week", sensitivity=2)
    assert band(week, [0.0], 3.0, {}).outside is None  # a zero baseline has no band
    assert (band(week, [100.0], 199.0, {}).outside, band(week, [100.0], 49.0, {}).outside) == (
        False,
        True,
    )
    few = Anomaly(min_samples=5)
    assert band(few, [1.0, 1.0], 9.0, {}).outside is None  # too little history: no data


def test_the_documented_example_runs_as_shown(tmp_path: Path) -> None:
    """docs/monitoring.md's anomaly example: its opsbook.yaml over two generated hours of logs
    (30% errors from 09:00 to 09:10), and the replay prints what the page shows."""
    import re
    import shlex

    text = (Path(__file__).resolve().parent.parent / "docs" / "monitoring.md").read_text()
    spec = re.search(r"^```yaml file=opsbook.yaml scene=anomaly\n(.*?)^```", text, re.S | re.M)
    sessions = re.findall(r"^```console scene=anomaly\n(.*?)^```", text, re.S | re.M)
    assert spec and len(sessions) == 2  # the replay, then one evaluation with its bands
    (tmp_path / "opsbook.yaml").write_text(spec.group(1))
    spike = Incident(START + timedelta(hours=1), 10, error_rate=0.3)
    write(tmp_path / "logs" / "app.jsonl", Traffic(START, 120, incidents=[spike]))
    for session in sessions:
        command, _, expected = session.partition("\n")
        args = shlex.split(command.removeprefix("$ "))
        done = run_cli(*args[1:], cwd=tmp_path)
        assert done.returncode == 0, done.stderr
        shown = [x.rstrip() for x in done.stdout.splitlines()]
        assert shown == expected.rstrip("\n").splitlines()


def _watched(project: Path, tmp_path: Path) -> Path:
    """A copy of the project whose store `opsbook watch` filled at 09:01, 09:02 and 09:03:30:
    error_spike firing, with its band."""
    import shutil

    copy = tmp_path / "shop"
    shutil.copytree(project, copy, ignore=shutil.ignore_patterns(".opsbook", "*.db"))
    for instant in ("09:01:00", "09:02:00", "09:03:30"):
        done = run_cli("watch", "--once", "--now", f"2026-11-30T{instant}Z", cwd=copy)
        assert done.returncode == 0, done.stderr
    return copy


# serve's watcher evaluates too: at the real time there is no data (and no band), so its clock
# starts where watch's left off.
LATER = ("--now", "2026-11-30T09:03:40Z")
SHOWN = re.compile(r"^([-\d.e]+) \(band ([-\d.e]+) \.\. ([-\d.e]+)\)$")


@pytest.mark.timeout(120)  # three watch processes, each a CLI start-up and an evaluation; serve
def test_watch_fires_on_an_anomaly_and_keeps_its_band(project: Path, tmp_path: Path) -> None:
    """The band of the last evaluation is stored with the alert: `opsbook alerts` (text and
    --json), the API and the dashboard's alerts page show it beside the value."""
    from opsbook.store.database import default_url
    from web_support import make_token, serving

    copy = _watched(project, tmp_path)
    shown = json.loads(run_cli("alerts", "--json", cwd=copy).stdout)
    spike = next(a for a in shown if a["alert"] == "error_spike")
    # watch's clock starts at --now and runs on: its tick is a few microseconds after it.
    assert spike["state"] == "firing"
    since = datetime.fromisoformat(spike["firing_since"].replace("Z", "+00:00"))
    assert since.timestamp() == pytest.approx(at("09:03").timestamp() + 30, abs=1)
    band = spike["band"]
    assert band["low"] < band["high"] < spike["value"]  # the spike is above its band
    slower = next(a for a in shown if a["alert"] == "slower_than_last_week")
    assert slower["band"]["low"] <= slower["value"] <= slower["band"]["high"]  # inside
    edges = f"(band {band['low']:.6g} .. {band['high']:.6g})"
    text = run_cli("alerts", cwd=copy).stdout
    assert edges in next(line for line in text.splitlines() if line.startswith("error_spike"))
    url = default_url(copy)
    token = make_token(copy, url, "viewer", "v")
    with serving(copy, url, *LATER) as served, served.client(token) as api:
        listed = api.get("/api/v1/alerts").json()
        spike = next(a for a in listed if a["alert"] == "error_spike")
        assert spike["state"] == "firing"
        band = spike["band"]
        assert band["low"] < band["high"] < spike["value"]
        page = api.get("/alerts")
        assert page.status_code == 200
        # serve's watcher evaluates every second, each time over windows a second later, so the
        # page may show the next evaluation's band: its own row must hold a band under its value.
        row = next(r for r in page.text.split("<tr>") if r.startswith("<td>error_spike</td>"))
        shown = re.search(r"<td>([-\d.e]+) <span[^>]*>\(band ([-\d.e]+) \.\. ([-\d.e]+)\)", row)
        assert shown, row
        value, low, high = map(float, shown.groups())
        assert low < high < value


@pytest.mark.slow
@pytest.mark.timeout(120)  # three watch processes, serve and a browser
def test_the_alerts_page_shows_the_band_beside_the_value_in_a_browser(
    project: Path, tmp_path: Path
) -> None:
    """What a person sees: in chromium, the firing error_spike row's value cell reads
    ``VALUE (band LOW .. HIGH)`` with the value above the band, and the band is visible."""
    from opsbook.store.database import default_url
    from web_support import browser, chromium_or_skip, make_token, serving

    chromium_or_skip()
    copy = _watched(project, tmp_path)
    url = default_url(copy)
    token = make_token(copy, url, "viewer", "v")
    with serving(copy, url, *LATER) as served, browser() as chromium:
        context = chromium.new_context(extra_http_headers={"Authorization": f"Bearer {token}"})
        page = context.new_page()
        page.goto(f"{served.url}/alerts")
        row = page.locator("tr", has=page.locator("td", has_text="error_spike"))
        band = row.locator(".band")
        band.wait_for(state="visible", timeout=10_000)
        cell = row.locator("td", has=page.locator(".band"))
        shown = SHOWN.match(" ".join(cell.inner_text().split()))
        assert shown, cell.inner_text()
        value, low, high = map(float, shown.groups())
        assert low < high < value  # the spike is above its band
        assert "firing" in row.inner_text()
        context.close()


def test_each_label_set_has_its_own_band() -> None:
    """With ``by:``, a route's history makes that route's band: /cart at 0.5 is normal for
    /cart and an anomaly for /, whose history is 0.01."""
    from opsbook.monitor.anomaly import bands_from
    from opsbook.monitor.config import Metric
    from opsbook.monitor.metrics import Reading
    from opsbook.sources.base import Sample

    metric = Metric.model_validate(
        {"from": "logs", "by": ["route"], "anomaly": {"min_samples": 3, "sensitivity": 3}}
    )
    history = [
        Reading("m", [Sample({"route": "/"}, 0.01 + i / 1000), Sample({"route": "/cart"}, 0.5)])
        for i in range(5)
    ]
    now = Reading("m", [Sample({"route": "/"}, 0.5), Sample({"route": "/cart"}, 0.5)])
    outside = {b.labels["route"]: b.outside for b in bands_from(metric, history, now)}
    assert outside == {"/": True, "/cart": False}


def test_monitor_eval_shows_each_band_and_where_the_value_is(project: Path, tmp_path: Path) -> None:
    """The band an anomaly alert compares against, in --json and in the text: at 08:30 the error
    rate is inside the band its history gives, at 09:03 (the spike) above its upper edge."""
    store = f"sqlite:///{tmp_path / 'state.db'}"  # this test's own alert states

    def band(minute: str) -> dict[str, object]:
        shown = run_cli(
            "monitor", "eval", "--now", f"2026-11-30T{minute}:00Z", "--json", "--store", store,
            cwd=project,
        )  # fmt: skip
        assert shown.returncode in (0, 1), shown.stderr
        bands = json.loads(shown.stdout)["bands"]
        assert set(bands) == {"error_spike", "slower_than_last_week"}
        (found,) = bands["error_spike"]
        return found  # type: ignore[no-any-return]

    calm, spike = band("08:30"), band("09:03")
    assert calm["outside"] is False and calm["low"] <= calm["value"] <= calm["high"]  # type: ignore[operator]
    assert spike["outside"] is True and spike["value"] > spike["high"]  # type: ignore[operator]
    text = run_cli(
        "monitor", "eval", "--now", "2026-11-30T09:03:00Z", "--store", store, cwd=project
    ).stdout
    row = next(line for line in text.splitlines() if line.startswith("error_spike "))
    low, high = (f"{spike[k]:.6g}" for k in ("low", "high"))
    assert f"{low} .. {high}" in row and row.rstrip().endswith("outside")
