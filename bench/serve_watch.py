"""Benchmark (serve): 50 concurrent clients watch a 100-step run on one `opsbook serve`.

Each client holds the run's Server-Sent Events stream open and loads the run page (the
dashboard's HTML) once a second, as a browser tab on the run page does with htmx. Printed:
p50/p99 latency of the run page, p50/p99 delay from an event being written (its ``at``) to a
client reading it, and, for comparison, what a person without `serve` does to see the same
thing: run `opsbook show RUN` (one call's wall time). Bounded: stops when the run finishes, or
after --timeout seconds.

    .venv/bin/python bench/serve_watch.py [--clients 50] [--steps 100] [--store URL]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import multiprocessing
import os
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import datetime
from pathlib import Path

import httpx

PAGES = True


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def project(root: Path, steps: int) -> None:
    lines = [
        "version: 1",
        "project: bench",
        "environments:",
        "  local: {}",
        "runbooks:",
        "  watched:",
        "    steps:",
    ]
    for n in range(1, steps + 1):
        lines += [f"      - id: s{n:03d}", f"        run: sleep 0.05; echo step {n}"]
    (root / "opsbook.yaml").write_text("\n".join(lines) + "\n")


def pct(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(p / 100 * (len(ordered) - 1)))]


async def client(
    url: str, token: str, run_id: str, deadline: float, pages: list[float], delays: list[float]
) -> None:
    headers = {"Authorization": f"Bearer {token}"}
    async with httpx.AsyncClient(base_url=url, headers=headers, timeout=60) as http:
        done = asyncio.Event()

        async def watch() -> None:
            async with http.stream("GET", f"/api/v1/runs/{run_id}/events") as stream:
                async for line in stream.aiter_lines():
                    if line.startswith("data: ") and line != "data: {}":
                        at = json.loads(line[6:])["at"]  # ISO 8601, as every API time
                        written = datetime.fromisoformat(at.replace("Z", "+00:00")).timestamp()
                        delays.append(time.time() - written)
                    if line == "event: end" or time.monotonic() > deadline:
                        break
            done.set()

        async def load_page() -> None:
            while PAGES and not done.is_set() and time.monotonic() < deadline:
                start = time.perf_counter()
                reply = await http.get(f"/runs/{run_id}", headers={"accept": "text/html"})
                reply.raise_for_status()
                pages.append(time.perf_counter() - start)
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(done.wait(), 1.0)

        await asyncio.gather(watch(), load_page())


async def watch_all(
    url: str, token: str, run_id: str, clients: int, timeout: float
) -> tuple[list[float], list[float]]:
    pages: list[float] = []
    delays: list[float] = []
    deadline = time.monotonic() + timeout
    await asyncio.gather(
        *(client(url, token, run_id, deadline, pages, delays) for _ in range(clients))
    )
    return pages, delays


def _watch_group(
    url: str, token: str, run_id: str, clients: int, timeout: float
) -> tuple[list[float], list[float]]:
    return asyncio.run(watch_all(url, token, run_id, clients, timeout))


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--clients", type=int, default=50)
    parser.add_argument("--steps", type=int, default=100)
    parser.add_argument("--timeout", type=float, default=300)
    parser.add_argument("--store", default=None, help="store URL (default: SQLite in a temp dir)")
    parser.add_argument("--procs", type=int, default=5, help="client processes")
    parser.add_argument("--no-pages", action="store_true", help="only watch the event stream")
    args = parser.parse_args()
    global PAGES
    PAGES = not args.no_pages
    opsbook = [sys.executable, "-m", "opsbook"]
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        project(root, args.steps)
        env = {
            **os.environ,
            "OPSBOOK_DATABASE_URL": args.store or f"sqlite:///{root / 'state.db'}",
            "OPSBOOK_OPERATOR": "bench",
        }
        token = subprocess.run(
            [*opsbook, "token", "create", "--role", "viewer", "--name", "bench"],
            cwd=root,
            env=env,
            check=True,
            capture_output=True,
            text=True,
        ).stdout.strip()
        operator = subprocess.run(
            [*opsbook, "token", "create", "--role", "operator", "--name", "starter"],
            cwd=root,
            env=env,
            check=True,
            capture_output=True,
            text=True,
        ).stdout.strip()
        port = free_port()
        url = f"http://127.0.0.1:{port}"
        server = subprocess.Popen(
            [*opsbook, "serve", "--port", str(port), "--poll", "0.2"],
            cwd=root,
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        try:
            deadline = time.monotonic() + 60
            while True:
                try:
                    if httpx.get(f"{url}/healthz", timeout=2).status_code == 200:
                        break
                except httpx.HTTPError:
                    pass
                if time.monotonic() > deadline or server.poll() is not None:
                    raise SystemExit("serve did not start")
                time.sleep(0.1)
            started = httpx.post(
                f"{url}/api/v1/runs",
                json={"runbook": "watched", "env": "local"},
                headers={"Authorization": f"Bearer {operator}"},
                timeout=30,
            )
            started.raise_for_status()
            run_id = started.json()["id"]
            began = time.perf_counter()
            # The clients run in several processes, so the watchers' own parsing does not queue
            # behind one interpreter and count as server delay.
            share, extra = divmod(args.clients, args.procs)
            groups = [share + (i < extra) for i in range(args.procs)]
            with multiprocessing.Pool(args.procs) as pool:
                parts = pool.starmap(
                    _watch_group, [(url, token, run_id, n, args.timeout) for n in groups if n]
                )
            pages = [v for part in parts for v in part[0]]
            delays = [v for part in parts for v in part[1]]
            wall = time.perf_counter() - began
            show_times = []
            for _ in range(3):
                start = time.perf_counter()
                subprocess.run(
                    [*opsbook, "show", run_id],
                    cwd=root,
                    env=env,
                    check=True,
                    stdout=subprocess.DEVNULL,
                )
                show_times.append(time.perf_counter() - start)
        finally:
            server.send_signal(signal.SIGTERM)
            server.wait(60)
    store = "postgresql" if args.store else "sqlite (embedded)"
    print(
        f"clients: {args.clients}  steps: {args.steps}  store: {store}"
        f"  run watched for {wall:.1f} s"
    )
    for label, values in (("run page loads:  ", pages), ("SSE events read: ", delays)):
        if values:
            print(
                f"{label} {len(values):5d}  p50 {pct(values, 50) * 1000:7.1f} ms"
                f"  p99 {pct(values, 99) * 1000:7.1f} ms"
            )
    best_show = min(show_times)
    print(f"opsbook show RUN (one call, no server): {best_show * 1000:7.1f} ms")
    if pages:
        print(f"ratio run page p50 / opsbook show: {pct(pages, 50) / best_show:.2f}x")
    print(f"median SSE delay {statistics.median(delays) * 1000:.1f} ms")


if __name__ == "__main__":
    main()
