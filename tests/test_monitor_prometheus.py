"""A real Prometheus (the Debian package), started on 127.0.0.1 with a scrape of a test
exporter: it drives a `promql` metric of opsbook to firing, and its own alerting rule, sent to
`opsbook watch --listen` as to an Alertmanager, shows in `opsbook alerts`."""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import subprocess
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import httpx
import pytest

import forked
from conftest import run_cli
from web_support import daemon, free_port, wait_until

PROMETHEUS = shutil.which("prometheus")
pytestmark = pytest.mark.skipif(
    PROMETHEUS is None and not os.environ.get("CI"),
    reason="Debian package prometheus not installed (.ci/run installs it)",
)


@pytest.fixture
def exporter() -> Iterator[int]:
    """A /metrics endpoint with one counter, app_errors_total 12."""

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            body = b"# TYPE app_errors_total counter\napp_errors_total 12\n"
            self.send_response(200)
            self.send_header("Content-Type", "text/plain; version=0.0.4")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", free_port()), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield server.server_address[1]
    server.shutdown()
    server.server_close()


def _stop(proc: subprocess.Popen[bytes]) -> int:
    proc.send_signal(signal.SIGTERM)
    try:
        return proc.wait(timeout=20)
    except subprocess.TimeoutExpired:
        proc.kill()
        return proc.wait()


@pytest.mark.slow
def test_prometheus_drives_a_promql_metric_and_its_alerts_arrive_on_the_intake(
    tmp_path: Path, exporter: int
) -> None:
    assert PROMETHEUS is not None, "prometheus must be installed under CI"
    prom_port, intake_port = free_port(), free_port()
    (tmp_path / "rules.yml").write_text(
        "groups:\n- name: app\n  rules:\n  - alert: PromErrorsHigh\n"
        "    expr: app_errors_total > 5\n    labels: {severity: critical}\n"
        "    annotations: {summary: errors are high}\n"
    )
    intake = f"{{static_configs: [{{targets: ['127.0.0.1:{intake_port}']}}]}}"
    app = f"{{job_name: app, static_configs: [{{targets: ['127.0.0.1:{exporter}']}}]}}"
    (tmp_path / "prometheus.yml").write_text(
        "global: {scrape_interval: 1s, evaluation_interval: 1s}\n"
        f"alerting: {{alertmanagers: [{intake}]}}\n"
        "rule_files: [rules.yml]\n"
        f"scrape_configs: [{app}]\n"
    )
    project = tmp_path / "project"
    project.mkdir()
    (project / "opsbook.yaml").write_text(
        "version: 1\nproject: prom\n"
        f"sources:\n  prom: {{prometheus: 'http://127.0.0.1:{prom_port}'}}\n"
        "metrics:\n  app_errors: {from: prom, promql: 'sum(app_errors_total)'}\n"
        "alerts:\n  errors_high: {when: app_errors > 10, severity: critical}\n"
    )
    servers = contextlib.ExitStack()
    prom = [
        PROMETHEUS,
        f"--config.file={tmp_path / 'prometheus.yml'}",
        f"--storage.tsdb.path={tmp_path / 'data'}",
        f"--web.listen-address=127.0.0.1:{prom_port}",
    ]
    servers.enter_context(daemon(prom, tmp_path / "prometheus.log"))
    watch_log = (tmp_path / "watch.log").open("wb")
    watch = forked.opsbook(
        [
            "watch",
            "--interval",
            "0.5s",
            "--listen",
            f"127.0.0.1:{intake_port}",
        ],
        cwd=project,
        stdout=subprocess.DEVNULL,
        stderr=watch_log,
        env={**os.environ, "NO_COLOR": "1"},
    )
    try:

        def scraped() -> bool:
            try:
                answer = httpx.get(
                    f"http://127.0.0.1:{prom_port}/api/v1/query",
                    params={"query": "app_errors_total"},
                    timeout=2,
                ).json()
            except (httpx.HTTPError, ValueError):
                return False
            return bool(answer.get("data", {}).get("result"))

        wait_until(scraped, timeout=60, every=0.5, what="Prometheus to scrape the exporter")

        def firing() -> dict[str, dict[str, object]]:
            shown = run_cli("alerts", "--json", cwd=project)
            alerts = {a["alert"]: a for a in json.loads(shown.stdout or "[]")}
            both = all(
                alerts.get(n, {}).get("state") == "firing"
                for n in ("errors_high", "PromErrorsHigh")
            )
            return alerts if both else {}

        alerts = wait_until(firing, timeout=90, every=1, what="both alerts firing")
        assert alerts["errors_high"]["value"] == 12.0 and alerts["errors_high"]["origin"] == "rule"
        intake = alerts["PromErrorsHigh"]
        assert intake["origin"] == "intake"
        assert intake["labels"]["severity"] == "critical"
        assert intake["annotations"] == {"summary": "errors are high"}
        table = run_cli("alerts", cwd=project).stdout
        assert "PromErrorsHigh" in table and "errors are high" in table
    finally:
        code = _stop(watch)
        servers.close()
        watch_log.close()
    assert code == 0, (tmp_path / "watch.log").read_text()


def test_intake_refuses_hostile_bodies_with_400(tmp_path: Path) -> None:
    """Through the real Starlette app: not JSON, not a list, no alertname, bad times."""
    import asyncio

    from opsbook.spec.loader import validate_text
    from opsbook.store import open_store
    from opsbook.web.alertmanager import app

    loaded = validate_text("version: 1\nproject: p\n", "opsbook.yaml", tmp_path / "opsbook.yaml")
    store = open_store(f"sqlite:///{tmp_path / 'state.db'}")
    try:
        asgi = httpx.ASGITransport(app=app(store, loaded))

        def post(content: bytes) -> httpx.Response:
            async def one() -> httpx.Response:
                async with httpx.AsyncClient(transport=asgi, base_url="http://intake") as client:
                    return await client.post("/api/v2/alerts", content=content)

            return asyncio.run(one())

        cases = {
            b"{not json": "not JSON",
            b'{"labels": {}}': "JSON list",
            b'[{"labels": {"severity": "x"}}]': "alertname is missing",
            b'[{"labels": {"alertname": "a"}, "startsAt": "yesterday"}]': "RFC 3339",
            b'[{"labels": {"alertname": "a", "bad-name": "x"}}]': "label name",
            b'[{"labels": {"alertname": 5}}]': "object of strings",
        }
        for body, expected in cases.items():
            answer = post(body)
            assert answer.status_code == 400, body
            assert expected in answer.json()["error"], (body, answer.json())
        ok = post(b'[{"labels": {"alertname": "a"}}]')
        assert ok.status_code == 200
    finally:
        store.close()
