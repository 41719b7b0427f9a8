"""A check's secret header never reaches another host (issue "Trust", attack 4): an outside value
cannot change a URL's scheme, host or port, and redirects to another host are not followed when
the check sends headers. Two real HTTP servers on 127.0.0.1: the API and a thief."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from engine_support import cli, project

KEY = "api-key-7f3a91c2"  # pragma: allowlist secret


class _Recorder(BaseHTTPRequestHandler):
    seen: list[tuple[str, str | None]]
    redirect_to: str | None = None

    def do_GET(self) -> None:
        self.seen.append((self.path, self.headers.get("X-Api-Key")))
        if self.path.startswith("/go") and self.redirect_to:
            self.send_response(302)
            self.send_header("Location", self.redirect_to)
            self.end_headers()
            return
        body = b'{"status": "ok"}'
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: object) -> None:
        pass


def _server(
    redirect_to: str | None = None,
) -> tuple[ThreadingHTTPServer, list[tuple[str, str | None]]]:
    seen: list[tuple[str, str | None]] = []
    handler = type("Handler", (_Recorder,), {"seen": seen, "redirect_to": redirect_to})
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server, seen


@pytest.fixture
def servers() -> Iterator[dict[str, tuple[int, list[tuple[str, str | None]]]]]:
    """The API (which redirects /go to the thief) and the thief, each recording its requests."""
    thief, stolen = _server()
    thief_port = thief.server_address[1]
    api, served = _server(redirect_to=f"http://127.0.0.1:{thief_port}/steal")
    yield {"api": (api.server_address[1], served), "thief": (thief_port, stolen)}
    for server in (api, thief):
        server.shutdown()
        server.server_close()


def _project(tmp_path: Path, api_port: int) -> Path:
    spec = f"""\
version: 1
project: t
environments:
  local: {{env_file: .env.local}}
env:
  API_KEY: {{required: true, secret: true}}
checks:
  api:
    http: "http://127.0.0.1:{api_port}${{{{ params.path }}}}"
    headers: {{X-Api-Key: "${{{{ env.API_KEY }}}}"}}
runbooks:
  probe:
    params: {{path: {{required: true}}}}
    steps:
      - {{id: probe, check: api}}
"""
    return project(tmp_path, spec, f"API_KEY={KEY}\n")


@pytest.mark.parametrize(
    "path",
    ["@127.0.0.1:{thief}/steal", ":{thief}/steal", "@127.0.0.1:{thief}", "\\@127.0.0.1:{thief}/"],
)
def test_a_param_cannot_send_the_key_to_another_host(
    tmp_path: Path, servers: dict[str, tuple[int, list[tuple[str, str | None]]]], path: str
) -> None:
    api_port, _served = servers["api"]
    thief_port, stolen = servers["thief"]
    root = _project(tmp_path, api_port)
    store = f"sqlite:///{tmp_path / 'state.db'}"
    attack = path.format(thief=thief_port)
    done = cli(root, store, "run", "probe", "--env", "local", "-p", f"path={attack}")
    assert done.returncode == 1, done.stdout + done.stderr
    assert stolen == []
    assert "status: ok" not in done.stdout
    assert KEY not in done.stdout + done.stderr


def test_the_key_goes_to_the_written_host_and_never_through_a_redirect(
    tmp_path: Path, servers: dict[str, tuple[int, list[tuple[str, str | None]]]]
) -> None:
    api_port, served = servers["api"]
    _thief_port, stolen = servers["thief"]
    root = _project(tmp_path, api_port)
    store = f"sqlite:///{tmp_path / 'state.db'}"
    fine = cli(root, store, "run", "probe", "--env", "local", "-p", "path=/health?x=@evil")
    assert fine.returncode == 0, fine.stdout + fine.stderr
    assert served == [("/health?x=@evil", KEY)]
    redirected = cli(root, store, "run", "probe", "--env", "local", "-p", "path=/go")
    assert redirected.returncode == 1, redirected.stdout + redirected.stderr
    assert stolen == []
    assert "redirect to another host was not followed" in redirected.stdout + redirected.stderr
