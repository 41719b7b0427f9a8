"""Benchmark (b): 200 HTTP checks against local endpoints that each take 50 ms, against the
sequential curl loop a runbook uses (one URL at a time).

opsbook runs one `check` step naming 200 checks; they run concurrently (httpx, asyncio).
Printed: the whole `opsbook run` command (start-up, store, checkpoints included), the check step
alone in-process, and the curl loop.

    .venv/bin/python bench/http_200.py [--checks 200] [--delay-ms 50]
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

from timing import timed

DELAY = 0.05


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.0"

    def do_GET(self) -> None:
        time.sleep(DELAY)
        body = b'{"status": "ok"}'
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: object) -> None:
        pass


class Server(ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 1024  # 200 connections arrive at once


def main() -> None:
    global DELAY
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--checks", type=int, default=200)
    parser.add_argument("--delay-ms", type=float, default=50)
    args = parser.parse_args()
    DELAY = args.delay_ms / 1000
    n = args.checks
    server = Server(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    base = f"http://127.0.0.1:{server.server_address[1]}"
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        checks = "".join(
            f"  c{i}: {{http: '{base}/health/{i}',"
            " expect: {status: 200, json: {status: ok}}}\n"
            for i in range(n)
        )
        names = ", ".join(f"c{i}" for i in range(n))
        (root / "opsbook.yaml").write_text(
            "version: 1\nproject: bench\nenvironments: {local: {}}\n"
            f"checks:\n{checks}"
            f"runbooks:\n  verify:\n    steps:\n      - {{id: all, check: [{names}]}}\n"
        )
        (root / "curl.sh").write_text(
            f"for i in $(seq 0 {n - 1}); do curl -fsS -o /dev/null {base}/health/$i; done\n"
        )
        env = {**os.environ, "NO_COLOR": "1"}
        opsbook = [sys.executable, "-m", "opsbook", "run", "verify", "--env", "local"]
        curl = min(timed(["bash", "curl.sh"], root) for _ in range(2))
        ours = min(timed(opsbook, root, env) for _ in range(3))
        sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "src"))
        from opsbook.checks.runner import run_checks
        from opsbook.spec.models import Check

        checks = [(f"c{i}", Check(http=f"{base}/health/{i}")) for i in range(n)]
        inproc = []
        for _ in range(3):
            start = time.perf_counter()
            outcomes = run_checks(checks, root=root, env={}, render=str)
            inproc.append(time.perf_counter() - start)
            assert all(o.ok for o in outcomes)
    server.shutdown()
    step = min(inproc)
    print(f"checks: {n}  endpoint delay: {args.delay_ms:g} ms  cores: {os.cpu_count()}")
    print(f"curl loop (sequential):      {curl:7.3f} s")
    print(f"opsbook run (whole command): {ours:7.3f} s")
    print(f"check step alone (in-proc):  {step:7.3f} s")
    print(f"ratio curl / opsbook run:    {curl / ours:.1f}x  (target >= 40x)")
    print(f"ratio curl / check step:     {curl / step:.1f}x")


if __name__ == "__main__":
    main()
