"""HTTP checks build their certificate-verifying transport only for https, and still verify.

A local TLS server with a self-signed certificate: an https check fails on the certificate, and
so does a plain http check that redirects to it. Plain http checks beside it pass.
"""

from __future__ import annotations

import shutil
import ssl
import subprocess
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from check_support import run_named
from opsbook.spec.models import Check


class _Handler(BaseHTTPRequestHandler):
    target = ""

    def do_GET(self) -> None:
        if self.path == "/redirect":
            self.send_response(302)
            self.send_header("Location", self.target)
            self.send_header("Content-Length", "0")
            self.end_headers()
            return
        self.send_response(200)
        self.send_header("Content-Length", "2")
        self.end_headers()
        self.wfile.write(b"ok")

    def log_message(self, *args: object) -> None:
        pass


def _serve(server: ThreadingHTTPServer) -> Iterator[str]:
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


@pytest.fixture
def https_server(tmp_path: Path) -> Iterator[str]:
    if shutil.which("openssl") is None:
        pytest.skip("openssl is needed to make a self-signed certificate")
    cert, key = tmp_path / "cert.pem", tmp_path / "key.pem"
    subprocess.run(
        [
            *("openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1"),
            *("-subj", "/CN=127.0.0.1", "-keyout", str(key), "-out", str(cert)),
        ],
        check=True,
        capture_output=True,
    )
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert, key)
    server.socket = context.wrap_socket(server.socket, server_side=True)
    yield from _serve(server)


@pytest.fixture
def http_server(https_server: str) -> Iterator[str]:
    _Handler.target = f"https://{https_server}/health"
    yield from _serve(ThreadingHTTPServer(("127.0.0.1", 0), _Handler))


def test_https_is_verified_and_plain_http_passes(https_server: str, http_server: str) -> None:
    urls = {
        "tls": f"https://{https_server}/health",
        "redirected": f"http://{http_server}/redirect",
        "plain": f"http://{http_server}/health",
    }
    probes = [(name, Check(http=url)) for name, url in urls.items()]
    outcomes = {o.check: o for o in run_named(probes, cap=10)}
    assert outcomes["plain"].ok and outcomes["plain"].summary == "HTTP 200"
    for name in ("tls", "redirected"):
        assert not outcomes[name].ok
        assert "CERTIFICATE_VERIFY_FAILED" in " ".join(outcomes[name].problems), name
