"""Named HTTP checks (status, json subset, jmespath, contains, within) against a real local
server, run concurrently, and the built-in `env` check inside a run."""

from __future__ import annotations

import json
import re
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from check_support import run_named
from engine_support import cli, only_run, project, rows
from opsbook.spec.models import Check
from opsbook.store import schema

BODIES = {
    "/health": (200, {"status": "ok", "version": "2", "db": {"up": True}}),
    "/api/health": (
        200,
        {"providers": {"stripe": {"status": "up"}, "openai": {"status": "unavailable"}}},
    ),
    "/down": (503, {"status": "down"}),
}


class _Handler(BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        if self.path.startswith("/slow"):
            time.sleep(0.3)
        status, body = BODIES.get(self.path.split("?")[0], (200, {"path": self.path}))
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def server() -> Iterator[str]:
    """A real HTTP server on 127.0.0.1 in a thread (threading: slow endpoints overlap)."""
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    httpd.daemon_threads = True
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}"
    httpd.shutdown()
    httpd.server_close()


def _probe(name: str, url: str, **expect: object) -> tuple[str, Check]:
    return name, Check.model_validate({"http": url, "expect": expect})


def test_each_expectation_passes_and_fails(server: str) -> None:
    outcomes = run_named(
        [
            _probe("ok", f"{server}/health", status=200, json={"status": "ok", "db": {"up": True}}),
            _probe("json", f"{server}/health", json={"db": {"up": False}}),
            _probe("status", f"{server}/down", status=[200, 204]),
            _probe("contains", f"{server}/health", contains='"version": "3"'),
            _probe(
                "providers",
                f"{server}/api/health",
                jmespath={"length(providers.*.status[?@ == 'unavailable'])": 0},
            ),
            _probe("within", f"{server}/slow", within="50ms"),
            _probe("refused", "http://127.0.0.1:9/"),
        ]
    )
    problems = {o.check: o.problems for o in outcomes}
    assert problems["ok"] == []
    assert problems["json"] == ["$.db.up is true, expected false"]
    assert problems["status"] == ["status 503, expected 200 or 204"]
    assert problems["contains"] == ['body does not contain \'"version": "3"\'']
    assert problems["providers"] == [
        "jmespath \"length(providers.*.status[?@ == 'unavailable'])\" is 1, expected 0"
    ]
    assert re.fullmatch(r"took \d+\.\d{3}s, expected within 0.05s", problems["within"][0])
    assert problems["refused"][0].startswith("cannot reach http://127.0.0.1:9/")


def test_checks_run_concurrently(server: str) -> None:
    # Ten 300 ms endpoints answered together: the outcomes overlap in time.
    probes = [_probe(f"c{i}", f"{server}/slow?{i}") for i in range(10)]
    started = time.perf_counter()
    outcomes = run_named(probes)
    total = time.perf_counter() - started
    assert all(o.ok for o in outcomes)
    assert total < sum(o.elapsed for o in outcomes)  # overlap, not a timing target


SPEC = """\
version: 1
project: c
environments:
  local: {{env_file: .env.local, vars: {{BASE_URL: "{server}"}}}}
env:
  DATABASE_URL: {{required: true, secret: true}}
checks:
  health:
    http: "${{{{ vars.BASE_URL }}}}/health"
    expect: {{status: 200, json: {{status: ok}}, within: 2s}}
  providers:
    http: "${{{{ vars.BASE_URL }}}}/api/health"
    expect: {{jmespath: {{"length(providers.*.status[?@ == 'unavailable'])": 0}}}}
runbooks:
  verify:
    steps:
      - {{id: env, check: env}}
      - {{id: health, check: [health]}}
  strict:
    steps:
      - {{id: all, check: [health, providers], retry: {{attempts: 2, delay: 10ms}}}}
"""


@pytest.mark.store
def test_check_steps_in_a_run(tmp_path: Path, store_url: str, server: str) -> None:
    root = project(tmp_path, SPEC.format(server=server), "DATABASE_URL=postgres://u:pw@h/db\n")
    done = cli(root, store_url, "run", "verify", "--env", "local")
    assert done.returncode == 0, done.stdout + done.stderr
    assert "health: ok (HTTP 200" in done.stdout
    failed = cli(root, store_url, "run", "strict", "--env", "local")
    assert failed.returncode == 1
    assert "providers: jmespath" in failed.stdout
    run = next(r for r in rows(store_url, schema.runs) if r.runbook == "strict")
    attempts = rows(store_url, schema.attempts, run_id=run.id)
    assert [a.status for a in attempts] == ["failed", "failed"]  # retried


@pytest.mark.store
def test_the_env_check_fails_a_run_when_a_required_variable_is_missing(
    tmp_path: Path, store_url: str, server: str
) -> None:
    root = project(tmp_path, SPEC.format(server=server), "OTHER=1\n")
    done = cli(root, store_url, "run", "verify", "--env", "local")
    assert done.returncode == 1
    assert "DATABASE_URL" in done.stdout
    assert only_run(store_url).status in ("failed", "rolled_back")
