"""A weighted reverse proxy for canary releases (standard library only).

    python proxy.py serve            listen on 127.0.0.1:$PROXY_PORT (default 8090) and send the
                                     weight in $PROXY_WEIGHT_FILE (percent) of the requests to
                                     the canary ($CANARY_PORT, default 8082), the rest to the
                                     stable shop ($SHOP_PORT, default 8081)
    python proxy.py weight N         set the canary's weight to N percent (0-100), atomically;
                                     the next request uses it
    python proxy.py probe [N]        send N (default 50) GET /api/health through the proxy and
                                     print the canary's 5xx ratio since the weight last changed,
                                     or null when no request reached the canary

GET /_proxy/stats answers {"weight": W, "stable": {...}, "canary": {"requests", "errors",
"error_rate"}}, counted since the weight last changed, so an analysis reads the canary at this
weight only.

The split is counted, not drawn at random: at weight W, of every 100 requests since the weight
changed exactly W go to the canary, spread evenly (at 10%, the 10th, 20th, ...). A probe of 50
requests at 10% therefore always reaches the canary 5 times; a random split would miss it
entirely about once in 200 probes, and an analysis would read "no data" where the canary fails.
"""

from __future__ import annotations

import http.client
import json
import os
import sys
import threading
import urllib.request
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
HOME = HERE.parent  # the shop directory
WEIGHT_FILE = Path(os.environ.get("PROXY_WEIGHT_FILE") or HOME / ".state" / "canary-weight")
PROXY_PORT = int(os.environ.get("PROXY_PORT") or 8090)
STABLE_PORT = int(os.environ.get("SHOP_PORT") or 8081)
CANARY_PORT = int(os.environ.get("CANARY_PORT") or 8082)


def read_weight() -> int:
    try:
        return max(0, min(100, int(WEIGHT_FILE.read_text().strip() or 0)))
    except (OSError, ValueError):
        return 0


class Counts:
    """Requests and 5xx answers per backend since the weight last changed."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.weight = read_weight()
        self.seen = {"stable": [0, 0], "canary": [0, 0]}
        self.sent = 0  # requests routed since the weight last changed

    def current_weight(self) -> int:
        weight = read_weight()
        with self.lock:
            if weight != self.weight:
                self.weight = weight
                self.seen = {"stable": [0, 0], "canary": [0, 0]}
                self.sent = 0
        return weight

    def route(self) -> str:
        """The next request's backend: the canary when this request takes the canary's count
        of requests since the weight changed to the next whole number (W of every 100)."""
        weight = self.current_weight()
        with self.lock:
            n, self.sent = self.sent, self.sent + 1
        return "canary" if (n + 1) * weight // 100 > n * weight // 100 else "stable"

    def add(self, backend: str, status: int) -> None:
        with self.lock:
            self.seen[backend][0] += 1
            self.seen[backend][1] += status >= 500

    def stats(self) -> dict[str, Any]:
        weight = self.current_weight()
        with self.lock:
            out: dict[str, Any] = {"weight": weight}
            for backend, (requests, errors) in self.seen.items():
                rate = errors / requests if requests else None
                out[backend] = {"requests": requests, "errors": errors, "error_rate": rate}
            return out


def make_server(port: int = PROXY_PORT) -> ThreadingHTTPServer:
    counts = Counts()

    class Handler(BaseHTTPRequestHandler):
        server_version = "shop-proxy"

        def do_GET(self) -> None:
            if self.path.split("?", 1)[0] == "/_proxy/stats":
                self._send(200, "application/json", json.dumps(counts.stats()).encode())
                return
            backend = counts.route()
            port = CANARY_PORT if backend == "canary" else STABLE_PORT
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
            try:
                conn.request("GET", self.path)
                reply = conn.getresponse()
                status, body = reply.status, reply.read()
                kind = reply.getheader("Content-Type") or "application/json"
            except OSError as err:
                status, kind = 502, "application/json"
                body = json.dumps({"error": f"{backend} unreachable: {err}"}).encode()
            finally:
                conn.close()
            counts.add(backend, status)
            self._send(status, kind, body, backend)

        def _send(self, status: int, kind: str, body: bytes, backend: str = "") -> None:
            self.send_response(status)
            self.send_header("Content-Type", kind)
            self.send_header("Content-Length", str(len(body)))
            if backend:
                self.send_header("X-Backend", backend)
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: Any) -> None:
            pass  # the shop logs its own requests

    return ThreadingHTTPServer(("127.0.0.1", port), Handler)


def set_weight(text: str) -> int:
    if not text.isdigit() or not 0 <= int(text) <= 100:
        sys.exit(f"proxy: weight {text!r} must be a whole percent, 0 to 100")
    WEIGHT_FILE.parent.mkdir(parents=True, exist_ok=True)
    tmp = WEIGHT_FILE.with_suffix(".tmp")
    tmp.write_text(f"{int(text)}\n")
    tmp.replace(WEIGHT_FILE)
    print(f"proxy: canary weight {int(text)}%")
    return 0


def probe(count: int) -> int:
    base = f"http://127.0.0.1:{PROXY_PORT}"
    for _ in range(count):
        try:
            urllib.request.urlopen(base + "/api/health", timeout=5).close()
        except OSError:
            pass  # a 5xx answer is what the probe counts, through the stats
    with urllib.request.urlopen(base + "/_proxy/stats", timeout=5) as reply:
        stats = json.load(reply)
    print(json.dumps(stats["canary"]["error_rate"]))
    return 0


def main(argv: list[str]) -> int:
    command = argv[0] if argv else "serve"
    if command == "weight" and len(argv) == 2:
        return set_weight(argv[1])
    if command == "probe":
        return probe(int(argv[1]) if len(argv) > 1 and argv[1].isdigit() else 50)
    if command == "serve":
        server = make_server()
        print(f"proxy: 127.0.0.1:{PROXY_PORT} → stable :{STABLE_PORT}, canary :{CANARY_PORT}")
        sys.stdout.flush()
        try:
            server.serve_forever()
        except KeyboardInterrupt:
            pass
        return 0
    sys.exit("usage: proxy.py serve | weight N | probe [N]")


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
