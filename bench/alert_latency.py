"""Benchmark (e): alert latency of `opsbook watch` at its default settings, from a JSON log line
written to the webhook notification received, for `for: 0m` rules with `group_wait: 0s`.

A receiver on 127.0.0.1 records arrival times; each round appends one error line that makes one
more alert fire. Measuring starts once watch has notified the alert of the line the log starts
with (its start-up is not alert latency). Between ticks, watch wakes early when a log file
changed (see opsbook/monitor/watch.py). The same bench run with another checkout's Python
(`/other/.venv/bin/python bench/alert_latency.py`) measures that checkout side by side.

    .venv/bin/python bench/alert_latency.py [--rounds 5]
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

received: dict[str, float] = {}


class Handler(BaseHTTPRequestHandler):
    def do_POST(self) -> None:
        body = json.loads(self.rfile.read(int(self.headers.get("Content-Length", 0))))
        if body["status"] == "firing":
            received.setdefault(body["groupLabels"]["alertname"], time.time())
        self.send_response(200)
        self.end_headers()

    def log_message(self, *args: object) -> None:
        pass


def spec(rounds: int, port: int) -> str:
    metrics = "\n".join(
        f'  e{k}: {{from: app, over: 1m, value: "count(*) FILTER (WHERE k = {k})"}}'
        for k in range(-1, rounds)
    )
    metrics = metrics.replace("e-1:", "ready:")
    alerts = "\n".join(f"  a{k}: {{when: e{k} > 0, for: 0m}}" for k in range(rounds))
    alerts += "\n  a-1: {when: ready > 0, for: 0m}"
    return (
        "version: 1\nproject: latency\nsources:\n  app: {logs: app.jsonl}\n"
        f"metrics:\n{metrics}\nalerts:\n{alerts}\n"
        "notify:\n  receivers:\n"
        f"    hook: {{webhook: 'http://127.0.0.1:{port}/'}}\n"
        "  route: {receiver: hook, group_wait: 0s, group_interval: 0s}\n"
    )


def line(k: int) -> str:
    now = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"
    return json.dumps({"ts": now, "level": "error", "k": k}) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    with tempfile.TemporaryDirectory() as tmp:
        here = Path(tmp)
        (here / "opsbook.yaml").write_text(spec(args.rounds, server.server_address[1]))
        log = here / "app.jsonl"
        log.write_text(line(-1))
        opsbook = str(Path(sys.executable).parent / "opsbook")
        watch = subprocess.Popen(
            [opsbook, "watch"],
            cwd=here,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            env={**os.environ, "NO_COLOR": "1"},
        )
        try:
            deadline = time.monotonic() + 120
            while "a-1" not in received and time.monotonic() < deadline:
                time.sleep(0.05)  # start-up and a first notification, before measuring
            if "a-1" not in received:
                raise SystemExit("watch sent nothing within 120 s of starting")
            latencies = []
            for k in range(args.rounds):
                written = time.time()
                with log.open("a") as fh:
                    fh.write(line(k))
                deadline = time.monotonic() + 30
                while f"a{k}" not in received and time.monotonic() < deadline:
                    time.sleep(0.01)
                if f"a{k}" not in received:
                    raise SystemExit(f"a{k} was not notified within 30 s")
                latencies.append(received[f"a{k}"] - written)
                time.sleep(1.3)  # land each write at a different point of the interval
        finally:
            watch.send_signal(signal.SIGTERM)
            watch.wait(timeout=30)
            server.shutdown()
    print(f"{args.rounds} alerts, default settings (watch --interval 1s)")
    print(f"  median {statistics.median(latencies):.2f} s, max {max(latencies):.2f} s")
    print("  each: " + ", ".join(f"{x:.2f}" for x in latencies))


if __name__ == "__main__":
    main()
