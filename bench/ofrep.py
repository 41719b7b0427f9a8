"""Benchmark: OFREP single-flag evaluations per second on loopback, from one client process,
against the same evaluations done in-process (what an app embedding the evaluator would pay).

A temporary project with a 10% rollout flag, an API token, and `opsbook flags serve` (uvicorn,
one process) on 127.0.0.1. The client is one process: asyncio with keep-alive connections, each
sending `POST /ofrep/v1/evaluate/flags/new-checkout` with a different targetingKey and reading
the answer before the next; then the same with `--workers 2`. Stops by itself after --seconds.
When `wrk` is installed (Debian
package `wrk`), the same load is measured a second time with it (a C client, so the figure is the
server's alone, not the Python client's).

    .venv/bin/python bench/ofrep.py [--seconds 5] [--connections 16]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

SPEC = """\
version: 1
project: bench
flags:
  new-checkout: {default: false, rollout: {percent: 10, stickiness: userId}}
"""


BARE = """
import uvicorn

async def app(scope, receive, send):
    if scope["type"] != "http":
        return
    while (await receive()).get("more_body"):
        pass
    body = b'{"key":"new-checkout","value":false}'
    headers = [(b"content-type", b"application/json"), (b"content-length", b"%%d" %% len(body))]
    await send({"type": "http.response.start", "status": 200, "headers": headers})
    await send({"type": "http.response.body", "body": body})

uvicorn.run(app, host="127.0.0.1", port=%d, http="httptools", loop="uvloop",
            lifespan="off", log_level="warning", access_log=False)
"""


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def request(port: int, token: str, user: int) -> bytes:
    body = json.dumps({"context": {"targetingKey": f"user-{user}"}}).encode()
    head = (
        f"POST /ofrep/v1/evaluate/flags/new-checkout HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n"
        f"Authorization: Bearer {token}\r\nContent-Type: application/json\r\n"
        f"Content-Length: {len(body)}\r\n\r\n"
    )
    return head.encode() + body


async def connection(port: int, token: str, stop: float, first: int, counts: list[int]) -> None:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    user = first
    while time.perf_counter() < stop:
        writer.write(request(port, token, user))
        user += 1
        length = 0
        while True:  # headers
            line = await reader.readline()
            if line.lower().startswith(b"content-length:"):
                length = int(line.split(b":")[1])
            if line in (b"\r\n", b""):
                break
        answer = json.loads(await reader.readexactly(length))
        if "value" not in answer:
            raise SystemExit(f"unexpected answer {answer}")
        counts[0] += 1
    writer.close()


async def load(port: int, token: str, seconds: float, connections: int) -> float:
    counts = [0]
    start = time.perf_counter()
    stop = start + seconds
    await asyncio.gather(
        *(connection(port, token, stop, i * 1_000_000, counts) for i in range(connections))
    )
    return counts[0] / (time.perf_counter() - start)


WRK_SCRIPT = """\
wrk.method = "POST"
wrk.headers["Authorization"] = "Bearer %s"
wrk.headers["Content-Type"] = "application/json"
n = 0
request = function()
  n = n + 1
  return wrk.format(nil, nil, nil, '{"context":{"targetingKey":"user-' .. n .. '"}}')
end
"""


def with_wrk(port: int, token: str, args: argparse.Namespace, root: Path) -> float | None:
    """Requests per second measured by wrk (one thread, the same connections); None without
    wrk. Any non-2xx answer fails the bench."""
    wrk = shutil.which("wrk")
    if wrk is None:
        return None
    script = root / "ofrep.lua"
    script.write_text(WRK_SCRIPT % token)
    url = f"http://127.0.0.1:{port}/ofrep/v1/evaluate/flags/new-checkout"
    command = [wrk, "-t1", f"-c{args.connections}", f"-d{args.seconds:g}s", "-s", str(script), url]
    out = subprocess.run(command, capture_output=True, text=True, check=True, timeout=120).stdout
    if "Non-2xx" in out:
        raise SystemExit(f"wrk saw errors:\n{out}")
    return float(out.split("Requests/sec:")[1].split()[0])


def in_process(root: Path, seconds: float) -> tuple[float, float]:
    """Evaluations per second through the OFREP handler (store read included) and the
    evaluator alone (state given)."""
    from opsbook.flags.evaluate import evaluate
    from opsbook.flags.ofrep import Ofrep
    from opsbook.flags.state import FlagState
    from opsbook.spec.loader import load_spec
    from opsbook.store import open_store
    from opsbook.store.flags import StateReader

    loaded = load_spec(root / "opsbook.yaml")
    store = open_store(root=root)
    ofrep = Ofrep("bench", loaded.spec.flags, StateReader(store.engine))
    rates = []
    for one in (
        lambda i: ofrep.one("new-checkout", b'{"context": {"targetingKey": "user-%d"}}' % i),
        lambda i: evaluate(
            "new-checkout",
            loaded.spec.flags["new-checkout"],
            FlagState(True, 10),
            {"targetingKey": f"user-{i}"},
        ),
    ):
        n, start = 0, time.perf_counter()
        while time.perf_counter() - start < seconds:
            one(n)
            n += 1
        rates.append(n / (time.perf_counter() - start))
    store.close()
    return rates[0], rates[1]


def served(
    command: list[str], root: Path, port: int, token: str, args: argparse.Namespace
) -> tuple[float, float | None]:
    """Start a server, wait for its port, load it for --seconds, stop it; requests per second."""
    server = subprocess.Popen(
        command,
        cwd=root,
        env=dict(os.environ),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                break
            except OSError:
                if time.monotonic() > deadline or server.poll() is not None:
                    raise SystemExit(f"{command[-1]} did not start") from None
                time.sleep(0.1)
        asyncio.run(load(port, token, 1.0, args.connections))  # warm-up
        rate = asyncio.run(load(port, token, args.seconds, args.connections))
        return rate, with_wrk(port, token, args, root)
    finally:
        server.terminate()
        server.wait(timeout=10)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--seconds", type=float, default=5.0)
    parser.add_argument("--connections", type=int, default=16)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        (root / "opsbook.yaml").write_text(SPEC)
        made = subprocess.run(
            [
                sys.executable,
                "-m",
                "opsbook",
                "token",
                "create",
                "--role",
                "viewer",
                "--name",
                "bench",
                "--json",
            ],
            cwd=root,
            capture_output=True,
            text=True,
            check=True,
            timeout=60,
        )
        token = json.loads(made.stdout)["token"]
        port = free_port()
        opsbook = [sys.executable, "-m", "opsbook", "flags", "serve", "--port", str(port)]
        http_rate, http_wrk = served(opsbook, root, port, token, args)
        two_port = free_port()
        two = [*opsbook[:-1], str(two_port), "--workers", "2"]
        two_rate, two_wrk = served(two, root, two_port, token, args)
        bare_port = free_port()
        bare_rate, bare_wrk = served(
            [sys.executable, "-c", BARE % bare_port], root, bare_port, token, args
        )
        handler_rate, evaluator_rate = in_process(root, args.seconds)
    print(f"OFREP over loopback, {args.connections} connections, one client process:")
    print(f"  opsbook flags serve: {http_rate:,.0f} evaluations/s")
    print(
        f"  opsbook flags serve --workers 2: {two_rate:,.0f} evaluations/s "
        f"({two_rate / http_rate:.2f}x one worker)"
    )
    print(
        f"  the same server stack answering a constant (its ceiling): {bare_rate:,.0f} requests/s"
    )
    if http_wrk is not None and bare_wrk is not None:
        print(f"  the same two measured with wrk: {http_wrk:,.0f} evaluations/s (opsbook),")
        print(
            f"    {bare_wrk:,.0f} requests/s (constant); Python client / wrk for opsbook: "
            f"{http_rate / http_wrk:.2f}"
        )
    if two_wrk is not None and http_wrk is not None:
        print(f"  --workers 2 with wrk: {two_wrk:,.0f} evaluations/s ({two_wrk / http_wrk:.2f}x)")
    if http_wrk is None:
        print("  (install wrk to measure the server with a C client too)")
    print(f"in-process, OFREP handler with store read: {handler_rate:,.0f} evaluations/s")
    print(f"in-process, evaluator alone: {evaluator_rate:,.0f} evaluations/s")
    print(f"loopback / in-process handler: {handler_rate / http_rate:.1f}x slower over HTTP")


if __name__ == "__main__":
    main()
