"""`opsbook import` of Sloth specs, OpenSLO files and Prometheus rules (told apart by content),
and x-operations alert rules and SLO tables of Markdown runbooks becoming metrics/alerts/slos.

Inputs are the fixtures in tests/fixtures/monitor_import/ (written for these tests); hostile
inputs are made here. A real Prometheus evaluates an imported rule and an imported Sloth SLI."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from conftest import REPO, run_cli
from opsbook.errors import SpecError
from opsbook.importer import import_file
from opsbook.importer.specfiles import Format, MonitorImport, detect, import_monitoring
from opsbook.spec.loader import load_spec, validate_text
from test_monitor_prometheus import PROMETHEUS, _stop, exporter  # noqa: F401 (a fixture)
from web_support import free_port, wait_until

FIXTURES = REPO / "tests" / "fixtures" / "monitor_import"
SEEDS = REPO.parent / "shared" / "seeds"


_THRESHOLD = (
    "apiVersion: openslo/v1\nkind: SLO\nmetadata: {{name: s}}\nspec:\n"
    "  budgetingMethod: Timeslices\n  indicator:\n    metadata: {{name: p95}}\n    spec:\n"
    "      thresholdMetric:\n        metricSource:\n          type: Prometheus\n"
    "          spec: {{query: 'histogram_quantile(0.95, x)'}}\n"
    "  objectives:\n  - {objective}\n"
)
"""An OpenSLO threshold SLO whose one objective (line 14) the case gives."""


def _import(name: str) -> MonitorImport:
    result = import_file(FIXTURES / name)
    assert isinstance(result, MonitorImport)
    return result


def test_sloth_spec_becomes_promql_metrics_and_slos() -> None:
    result = _import("sloth.yaml")
    spec = result.loaded.spec
    assert result.draft.format is Format.SLOTH and spec.project == "checkout-api"
    availability = spec.slos["requests-availability"]
    assert availability.objective == 99.5 and availability.window == "30d"
    errors = spec.metrics[availability.sli.bad]  # type: ignore[union-attr]
    assert errors.promql == 'sum(rate(checkout_requests_total{code=~"5.."}[5m]))'
    assert "{{.window}}" not in result.text
    # The ticket alert is disabled in the spec: only the two page windows stay.
    assert {a.severity for a in availability.alerts or []} == {"page"}
    assert availability.severity["page"] == "critical"
    latency = spec.slos["latency"]
    assert spec.metrics[latency.sli.total].promql == "vector(1)"  # type: ignore[union-attr]
    assert "sloth.yaml:15" in result.report  # the Sloth alert name is reported
    validate_text(result.text, "opsbook.yaml")  # round-trips


def test_openslo_documents_become_metrics_and_slos() -> None:
    result = _import("openslo.yaml")
    spec = result.loaded.spec
    assert set(spec.slos) == {
        "checkout-availability",
        "search-errors-strict",
        "search-errors-relaxed",
        "checkout-latency-fast",
        "checkout-latency-usable",
    }
    checkout = spec.slos["checkout-availability"]
    assert checkout.objective == 99.5 and checkout.window == "28d"
    good = spec.metrics[checkout.sli.good]  # type: ignore[union-attr,index]
    assert good.promql == 'sum(increase(checkout_requests_total{code!~"5.."}[5m]))'
    assert spec.slos["search-errors-strict"].window == "month"
    assert spec.slos["search-errors-relaxed"].objective == 99.0
    # Two objectives share one ratio indicator: its metrics are made once.
    assert len([m for m in spec.metrics if m.startswith("search-errors")]) == 2
    # A threshold indicator gives each objective its own 1/0 metric; a time slice is a step.
    fast, usable = spec.slos["checkout-latency-fast"], spec.slos["checkout-latency-usable"]
    p95 = "histogram_quantile(0.95, sum by (le) (rate(checkout_seconds_bucket[5m])))"
    assert spec.metrics[str(fast.sli)].promql == f"min(({p95}) < bool 0.3)"
    assert spec.metrics[str(usable.sli)].promql == f"min(({p95}) <= bool 2.0)"
    assert (fast.objective, fast.step, fast.window) == (99.0, 60.0, "7d")
    assert (usable.objective, usable.step) == (99.9, 300.0)
    assert len(spec.metrics) == 6
    assert "Service checkout" in result.report
    assert "counted as Occurrences" not in result.report  # Timeslices fit a threshold SLI


def test_a_budgeting_method_opsbook_does_not_keep_is_noted_once_per_slo(tmp_path: Path) -> None:
    """Timeslices over a ratio SLI (two objectives) is counted as events, said once; over a
    threshold SLI it is kept (a slice is a step), and nothing is said."""
    ratio = (
        "apiVersion: openslo/v1\nkind: SLO\nmetadata: {name: r}\nspec:\n"
        "  budgetingMethod: Timeslices\n  indicator:\n    metadata: {name: e}\n    spec:\n"
        "      ratioMetric:\n        bad: {metricSource: {type: Prometheus, spec: {query: up}}}\n"
        "        total: {metricSource: {type: Prometheus, spec: {query: up}}}\n"
        "  objectives: [{name: a, target: 0.99}, {name: b, target: 0.9}]\n"
    )
    threshold = _THRESHOLD.format(objective="{op: lt, value: 1, target: 0.99}")
    for text, notes in ((ratio, 1), (threshold, 0)):
        source = tmp_path / "slo.yaml"
        source.write_text(text)
        result = import_file(source)
        assert isinstance(result, MonitorImport)
        assert result.report.count("counted as Occurrences") == notes


def test_prometheus_rules_become_metrics_and_alerts() -> None:
    result = _import("rules.yml")
    spec = result.loaded.spec
    rate = spec.alerts["CheckoutErrorRate"]
    assert rate.when == "CheckoutErrorRate > 0.05" and rate.for_ == 120 and rate.on_nodata == "ok"
    assert rate.keep_firing_for == 300 and rate.severity == "critical"
    assert (
        rate.labels == {"team": "payments"} and rate.summary == "Checkout error rate is {{ value }}"
    )
    assert spec.alerts["CheckoutDown"].when == "CheckoutDown == 0"
    assert spec.metrics["CheckoutDown"].promql == 'up{job="checkout"}'
    absent = spec.metrics["CheckoutAbsent"].promql or ""
    assert (
        absent.endswith("* 0 + 1") and spec.alerts["CheckoutAbsent"].when == "CheckoutAbsent == 1"
    )
    assert "job_checkout_errors_ratio5m" in spec.metrics  # the recording rule
    assert "recording rule" in result.report


def test_detection_is_by_content_not_extension(tmp_path: Path) -> None:
    text = (FIXTURES / "rules.yml").read_text()
    assert detect(text, "alerts.txt") is Format.RULES
    assert detect("# Runbook\n\ngroups:\n", "RUNBOOK.md") is None
    renamed = tmp_path / "alerting.conf"
    renamed.write_text(text)
    result = run_cli("import", str(renamed), "-o", str(tmp_path / "out.yaml"))
    assert result.returncode == 0, result.stderr
    assert "from a Prometheus rules file: 4 metrics, 3 alerts, 0 SLOs" in result.stdout
    assert load_spec(tmp_path / "out.yaml").spec.alerts


@pytest.mark.parametrize(
    ("name", "text", "line", "words"),
    [
        ("broken.yml", "groups:\n  - name: a\n    rules: [\n", 4, "YAML syntax error"),
        ("v2.yaml", "version: prometheus/v2\nservice: a\nslos: []\n", 1, "prometheus/v1"),
        ("alpha.yaml", "apiVersion: openslo/v1alpha\nkind: SLO\n", 1, "openslo/v1"),
        (
            "nosli.yaml",
            "version: prometheus/v1\nservice: a\nslos:\n  - name: x\n    objective: 99\n",
            4,
            "'sli' is missing",
        ),
        (
            "badname.yml",
            "groups:\n- name: g\n  rules:\n  - alert: High errors!\n    expr: up == 0\n",
            4,
            "not a valid name",
        ),
        (
            "badexpr.yml",
            "groups:\n- name: g\n  rules:\n  - alert: A\n    expr: sum(rate(x[5m])\n",
            5,
            "not valid PromQL",
        ),
        (
            "obj.yaml",
            "version: prometheus/v1\nservice: a\nslos:\n  - name: x\n"
            "    objective: 140\n    sli: {raw: {error_ratio_query: up}}\n",
            5,
            "below 100",
        ),
        (
            "ref.yaml",
            "apiVersion: openslo/v1\nkind: SLO\nmetadata: {name: s}\nspec:\n"
            "  indicatorRef: nowhere\n  objectives: [{target: 0.99}]\n",
            5,
            "unknown SLI",
        ),
        (
            "reflist.yaml",
            "apiVersion: openslo/v1\nkind: SLO\nmetadata: {name: s}\nspec:\n"
            "  indicatorRef: [a, b]\n  objectives: [{target: 0.99}]\n",
            5,
            "expected a text value",
        ),
        (
            "op.yaml",
            _THRESHOLD.format(objective="{op: below, value: 1, target: 0.99}"),
            14,
            "op 'below' is not one of lt, lte, gt, gte",
        ),
        (
            "nan.yaml",
            _THRESHOLD.format(objective="{op: lt, value: .nan, target: 0.99}"),
            14,
            "not a finite number",
        ),
        (
            "slice.yaml",
            _THRESHOLD.format(objective="{op: lt, value: 1, target: 0.99, timeSliceWindow: soon}"),
            14,
            "timeSliceWindow 'soon' is not like 1m",
        ),
        (
            "for.yml",
            "groups:\n- name: g\n  rules:\n  - alert: A\n    expr: up == 0\n    for: soon\n",
            6,
            "not a duration",
        ),
    ],
)
def test_hostile_files_are_refused_at_their_line(
    tmp_path: Path, name: str, text: str, line: int, words: str
) -> None:
    source = tmp_path / name
    source.write_text(text)
    result = run_cli("import", str(source), "-o", str(tmp_path / "out.yaml"))
    assert result.returncode == 2
    assert f"{source.as_posix()}:{line}:" in result.stderr and words in result.stderr
    assert "Traceback" not in result.stderr and not (tmp_path / "out.yaml").exists()


def test_unknown_yaml_huge_files_and_alias_bombs_are_refused(tmp_path: Path) -> None:
    other = tmp_path / "values.yaml"
    other.write_text("replicas: 3\n")
    result = run_cli("import", str(other), "-o", str(tmp_path / "o.yaml"))
    assert result.returncode == 2 and "not a Sloth, OpenSLO or Prometheus rules" in result.stderr
    huge = tmp_path / "huge.yml"
    with huge.open("w") as out:
        out.write("groups:\n")
        out.write("# padding\n" * 600_000)
    result = run_cli("import", str(huge), "-o", str(tmp_path / "o.yaml"))
    assert result.returncode == 2 and "larger than 5 MB" in result.stderr
    bomb = "groups:\n- &a [x, x, x, x, x, x, x, x, x, x]\n"
    for level in "bcdefgh":
        prev = chr(ord(level) - 1)
        bomb += f"- &{level} [*{prev}, *{prev}, *{prev}, *{prev}, *{prev}, *{prev}, *{prev}]\n"
    with pytest.raises(SpecError, match="YAML too large"):
        import_monitoring(bomb, "bomb.yml")


RUNBOOK = (FIXTURES / "ops-runbook.md").read_text


def test_runbook_alert_rules_and_slo_tables_become_monitoring(tmp_path: Path) -> None:
    """The shapes of real runbooks' alert lines (a YAML block, "Alert if" items, prose) and an
    SLO table: each becomes an alert or SLO; what has no known source is a listed placeholder."""
    source = tmp_path / "RUNBOOK.md"
    source.write_text(RUNBOOK())
    result = run_cli("import", str(source), "-o", str(tmp_path / "opsbook.yaml"), "--json")
    assert result.returncode == 0, result.stderr
    summary = json.loads(result.stdout)
    spec = load_spec(tmp_path / "opsbook.yaml").spec
    assert spec.alerts["high_error_rate"].when == "error_rate > 5%"
    assert spec.alerts["slow_responses"].when == "p95_latency_ms > 3000"
    assert spec.alerts["api_response_times"].when == "p95_ms > 2000"
    assert spec.alerts["queue_worker"].when == "queue_wait_median_ms > 2000"
    assert spec.metrics["error_rate"].from_ == "app_logs"
    assert spec.metrics["p95_latency_ms"].over == 600
    assert spec.metrics["refund_failures"].command == "exit 1"
    assert "refund_failures" in summary["placeholders"]
    console = spec.slos["console-uptime"]
    assert console.objective == 99.9 and console.calendar == "business-hours"
    assert spec.slos["error-logs"].window == "1d" and spec.slos["error-logs"].objective == 97
    backlog = spec.slos["refund-jobs"]
    assert (backlog.sli, backlog.objective, backlog.window) == ("refund_jobs_backlog_ok", 99, "7d")
    placeholder = spec.metrics["refund_jobs_backlog_ok"]
    assert placeholder.command == "exit 1" and "older than 2h" in (placeholder.description or "")
    assert "refund_jobs_backlog_ok" in summary["placeholders"]
    assert summary["monitoring"] == {"metrics": 9, "alerts": 5, "slos": 3}
    assert "x-operations" in (tmp_path / "opsbook.yaml").read_text()  # still kept there too


def test_a_hostile_backlog_row_stays_text(tmp_path: Path) -> None:
    """Shell text, a huge number and a 5,000-character queue name in backlog rows: the names
    made of them are cut and sanitised, the rest is kept as text, nothing runs."""
    marker = tmp_path / "pwned"
    source = tmp_path / "RUNBOOK.md"
    source.write_text(
        "# R\n\n## Service Objectives\n\n| Area | SLI/SLO |\n| --- | --- |\n"
        f"| Jobs | No backlog > 99999999999999999999 hours in `q;$(touch {marker})` |\n"
        f"| Deep | No backlog > 5 min in `{'a' * 5000}` |\n\n## Deploy\n\n```bash\n./d.sh\n```\n"
    )
    result = run_cli("import", str(source), "-o", str(tmp_path / "opsbook.yaml"))
    assert result.returncode == 0, result.stderr
    spec = load_spec(tmp_path / "opsbook.yaml").spec
    assert spec.slos["jobs"].sli == "q_backlog_ok"
    assert "older than 99999999999999999999h" in (spec.metrics["q_backlog_ok"].description or "")
    assert spec.slos["deep"].sli == "a" * 60 + "_backlog_ok"
    assert not marker.exists()


@pytest.mark.skipif(not SEEDS.is_dir(), reason="the shared seeds are not beside the repo")
def test_every_row_of_a_seed_slo_table_becomes_an_slo() -> None:
    """Seed 002's four objectives: failed logins, the payments backlog, business-hours uptime
    and the error-log budget."""
    result = import_file(next(SEEDS.glob("002_*")))
    assert not isinstance(result, MonitorImport)
    slos = result.loaded.spec.slos
    assert set(slos) == {
        "auth-availability",
        "payment-ingest",
        "staff-console-uptime",
        "error-budget",
    }
    assert slos["payment-ingest"].sli == "payments_queue_backlog_ok"


@pytest.mark.skipif(not SEEDS.is_dir(), reason="the shared seeds are not beside the repo")
@pytest.mark.parametrize(("seed", "alerts"), [("003", 5), ("004", 2), ("000", 2)])
def test_seed_alert_lines_become_alerts(tmp_path: Path, seed: str, alerts: int) -> None:
    path = next(SEEDS.glob(f"{seed}_*"))
    result = import_file(path)
    assert not isinstance(result, MonitorImport)
    assert len(result.loaded.spec.alerts) == alerts
    assert result.draft.monitoring["alerts"] == alerts


@pytest.mark.slow
@pytest.mark.skipif(PROMETHEUS is None, reason="Debian package prometheus not installed")
@pytest.mark.timeout(120)  # Prometheus' start-up and first scrape take seconds on a loaded box
def test_imported_rule_and_slis_evaluate_against_a_real_prometheus(
    tmp_path: Path,
    exporter: int,  # noqa: F811 (the fixture)
) -> None:
    assert PROMETHEUS is not None
    port = free_port()
    (tmp_path / "prometheus.yml").write_text(
        "global: {scrape_interval: 1s}\n"
        f"scrape_configs: [{{job_name: app, static_configs: [{{targets: "
        f"['127.0.0.1:{exporter}']}}]}}]\n"
    )
    (tmp_path / "rules.yml").write_text(
        "groups:\n- name: app\n  rules:\n  - alert: AppErrors\n    expr: app_errors_total > 5\n"
        "    labels: {severity: critical}\n"
    )
    (tmp_path / "sloth.yaml").write_text(
        'version: "prometheus/v1"\nservice: app\nslos:\n  - name: errors\n    objective: 99\n'
        "    sli:\n      events:\n        error_query: sum(app_errors_total)\n"
        "        total_query: sum(app_errors_total) * 10\n"
    )
    # app_errors_total is 12: the "under" objective is met (1), the "over" one is not (0).
    (tmp_path / "openslo.yaml").write_text(
        _THRESHOLD.format(objective="{name: under, op: lt, value: 20, target: 0.99}").replace(
            "histogram_quantile(0.95, x)", "sum(app_errors_total)"
        )
        + "  - {name: over, op: gt, value: 20, target: 0.99}\n"
    )
    prometheus = subprocess.Popen(
        [
            PROMETHEUS,
            f"--config.file={tmp_path / 'prometheus.yml'}",
            f"--storage.tsdb.path={tmp_path / 'data'}",
            f"--web.listen-address=127.0.0.1:{port}",
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        sources = {"rules": "rules.yml", "sloth": "sloth.yaml", "openslo": "openslo.yaml"}
        for name, file in sources.items():
            project = tmp_path / name
            project.mkdir()
            source = tmp_path / file
            assert run_cli("import", str(source), cwd=project).returncode == 0
            spec = project / "opsbook.yaml"
            spec.write_text(spec.read_text().replace("127.0.0.1:9090", f"127.0.0.1:{port}"))

        def evaluated(name: str) -> dict[str, object] | None:
            shown = run_cli("monitor", "eval", "--json", cwd=tmp_path / name)
            data = json.loads(shown.stdout)
            return data if all(m["samples"] for m in data["metrics"].values()) else None

        rules = wait_until(lambda: evaluated("rules"), timeout=60, every=1, what="a scrape")
        alert = next(a for a in rules["alerts"] if a["alert"] == "AppErrors")  # type: ignore[union-attr,index]
        assert alert["state"] == "firing" and alert["value"] == 12.0
        sloth = evaluated("sloth")
        assert sloth is not None
        values = {k: v["samples"][0]["value"] for k, v in sloth["metrics"].items()}  # type: ignore[union-attr]
        assert values == {"errors_errors": 12.0, "errors_total": 120.0}
        openslo = evaluated("openslo")
        assert openslo is not None
        values = {k: v["samples"][0]["value"] for k, v in openslo["metrics"].items()}  # type: ignore[union-attr]
        assert values == {"s-under_good": 1.0, "s-over_good": 0.0}
    finally:
        _stop(prometheus)


@pytest.mark.parametrize("name", ["rules", "sloth", "openslo"])
def test_docs_examples(tmp_path: Path, name: str) -> None:
    """docs/import.md's rules, Sloth and OpenSLO examples: inputs written, the console session
    run (real `opsbook` commands), and the files they write equal the ones the page shows."""
    from test_import_docs import _session, fences

    blocks = [f for f in fences() if f.info.get("scene") == name]
    inputs = [f for f in blocks if f.info.get("role") == "input"]
    outputs = [f for f in blocks if "file" in f.info and f.info.get("role") != "input"]
    console = next(f for f in blocks if f.kind == "console")
    assert inputs and outputs
    for fence in inputs:
        (tmp_path / fence.info["file"]).write_text(fence.content, encoding="utf-8")
    _session(console, tmp_path)
    for fence in outputs:
        assert (tmp_path / fence.info["file"]).read_text(encoding="utf-8") == fence.content


def _imports_or_fails_cleanly(text: str) -> None:
    try:
        result = import_monitoring(text, "fuzz.yaml")
    except SpecError as err:
        assert all(p.file == "fuzz.yaml" and p.line >= 1 for p in err.problems), err
        return
    validate_text(result.text, "opsbook.yaml")


SCALAR = st.one_of(
    st.sampled_from(
        ["up == 0", "sum(rate(x[{{.window}}]))", "5m", "1w", "28d", "1M", "99.5", "0.995",
         "Prometheus", "Datadog", "openslo/v1", "SLO", "SLI", "true", "a b", "x:y", "", "{{"]
    ),
    st.text(max_size=6), st.integers(-5, 200), st.floats(allow_nan=True), st.booleans(), st.none(),
)  # fmt: skip
KEYS = st.sampled_from(
    ["name", "objective", "sli", "events", "error_query", "total_query", "raw",
     "error_ratio_query", "alerting", "page_alert", "ticket_alert", "disable", "labels",
     "severity", "rules", "alert", "record", "expr", "for", "keep_firing_for", "annotations",
     "summary", "metadata", "spec", "kind", "indicator", "indicatorRef", "ratioMetric", "good",
     "bad", "total", "metricSource", "type", "query", "objectives", "target", "targetPercent",
     "timeWindow", "duration", "isRolling", "counter", "connectionDetails", "url", "service"]
)  # fmt: skip
TREE = st.recursive(
    SCALAR,
    lambda inner: st.one_of(st.lists(inner, max_size=3), st.dictionaries(KEYS, inner, max_size=4)),
    max_leaves=12,
)
TOPS = [
    {"version": "prometheus/v1", "service": "svc"},
    {"apiVersion": "openslo/v1", "kind": "SLO"},
    {"groups": None},
]


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(top=st.sampled_from(TOPS), key=KEYS, body=TREE, extra=st.dictionaries(KEYS, TREE))
def test_any_shaped_file_imports_or_fails_cleanly(
    top: dict[str, object], key: str, body: object, extra: dict[str, object]
) -> None:
    """Whatever the file holds under a recognised top level: a validated opsbook.yaml, or a
    SpecError naming the file and a line; never another exception."""
    import yaml

    doc = {**top, **extra}
    doc["slos" if "service" in top else "spec" if "kind" in top else "groups"] = (
        [body] if "groups" in top or "service" in top else {key: body}
    )
    text = yaml.safe_dump(doc, allow_unicode=True)
    _imports_or_fails_cleanly(text)


def _paths(node: object, here: tuple[object, ...] = ()) -> list[tuple[object, ...]]:
    found = [here]
    if isinstance(node, dict):
        for key, value in node.items():
            found += _paths(value, (*here, key))
    elif isinstance(node, list):
        for index, value in enumerate(node):
            found += _paths(value, (*here, index))
    return found


@pytest.mark.timeout(90)  # 200 imports of edited fixtures: ~6 s alone, 20 s in the suite
@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    name=st.sampled_from(["sloth.yaml", "openslo.yaml", "rules.yml"]),
    pick=st.integers(0, 10_000),
    value=TREE,
)
def test_a_fixture_with_any_one_value_replaced_imports_or_fails_cleanly(
    name: str, pick: int, value: object
) -> None:
    """Each fixture with one value (anywhere) swapped for another: deep paths of every format
    meet wrong types, missing parts and odd strings."""
    import yaml

    docs = list(yaml.safe_load_all((FIXTURES / name).read_text()))
    index = pick % len(docs)
    paths = _paths(docs[index])[1:]
    path = paths[pick % len(paths)]
    node: object = docs[index]
    for part in path[:-1]:
        node = node[part]  # type: ignore[index]
    node[path[-1]] = value  # type: ignore[index]
    text = yaml.safe_dump_all(docs, allow_unicode=True)
    _imports_or_fails_cleanly(text)
