"""Benchmark (b): 200 HTTP checks against local endpoints that each take 50 ms, against the
sequential curl loop a runbook uses (one URL at a time).

opsbook runs one `check` step naming 200 checks; they run concurrently (httpx, asyncio).
Printed: the whole `opsbook run` command (start-up, store, checkpoints included), the check step
alone in-process, the curl loop, and a bare asyncio client's time for the same 200 requests
(the floor the server allows: it runs in its own process, asyncio, so it answers them all in
about one delay).

    .venv/bin/python bench/http_200.py [--checks 200] [--delay-ms 50]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from timing import byte_compiled, timed

BODY = b'{"status": "ok"}'
RESPONSE = (
    b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nConnection: close\r\n"
    b"Content-Length: %d\r\n\r\n%s" % (len(BODY), BODY)
)


def serve(delay: float) -> None:
    """The endpoints, in their own process (``--serve``): an asyncio server answers 200
    concurrent requests in one delay, and shares no interpreter lock with the client measured.
    A thread per request in the measuring process (as before) made the in-process figure
    measure the server as much as opsbook."""

    async def answer(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            await reader.readuntil(b"\r\n\r\n")
            await asyncio.sleep(delay)
            writer.write(RESPONSE)
            await writer.drain()
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        finally:
            writer.close()

    async def main() -> None:
        server = await asyncio.start_server(answer, "127.0.0.1", 0, backlog=1024)
        print(server.sockets[0].getsockname()[1], flush=True)
        await server.serve_forever()

    asyncio.run(main())


def start_server(delay: float) -> tuple[subprocess.Popen[str], str]:
    proc = subprocess.Popen(
        [sys.executable, __file__, "--serve", "--delay-ms", str(delay * 1000)],
        stdout=subprocess.PIPE,
        text=True,
    )
    assert proc.stdout is not None
    return proc, f"http://127.0.0.1:{int(proc.stdout.readline())}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--checks", type=int, default=200)
    parser.add_argument("--delay-ms", type=float, default=50)
    parser.add_argument("--serve", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve:
        serve(args.delay_ms / 1000)
        return
    n = args.checks
    byte_compiled()
    server, base = start_server(args.delay_ms / 1000)
    try:
        measure(n, base, args.delay_ms)
    finally:
        server.kill()
        server.wait()


def floor(base: str, n: int) -> float:
    """Seconds a bare asyncio client takes for the same requests: what the server allows."""
    host, port = base.removeprefix("http://").split(":")

    async def one(i: int) -> bytes:
        reader, writer = await asyncio.open_connection(host, int(port))
        writer.write(f"GET /health/{i} HTTP/1.1\r\nHost: {host}\r\n\r\n".encode())
        data = await reader.read()
        writer.close()
        return data

    async def batch() -> None:
        await asyncio.gather(*(one(i) for i in range(n)))

    start = time.perf_counter()
    asyncio.run(batch())
    return time.perf_counter() - start


def measure(n: int, base: str, delay_ms: float) -> None:
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
        bare = min(floor(base, n) for _ in range(3))
        curl = min(timed(["bash", "curl.sh"], root) for _ in range(2))
        ours = min(timed(opsbook, root, env) for _ in range(3))
        sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "src"))
        from opsbook.checks.runner import run_checks
        from opsbook.spec.models import Check

        batch = [(f"c{i}", Check(http=f"{base}/health/{i}")) for i in range(n)]
        inproc = []
        for _ in range(3):
            start = time.perf_counter()
            outcomes = run_checks(batch, root=root, env={}, render=str)
            inproc.append(time.perf_counter() - start)
            assert all(o.ok for o in outcomes)
    step = min(inproc)
    print(f"checks: {n}  endpoint delay: {delay_ms:g} ms  cores: {os.cpu_count()}")
    print(f"bare asyncio client:         {bare:7.3f} s  (the server's floor)")
    print(f"curl loop (sequential):      {curl:7.3f} s")
    print(f"opsbook run (whole command): {ours:7.3f} s")
    print(f"check step alone (in-proc):  {step:7.3f} s")
    print(f"ratio curl / opsbook run:    {curl / ours:.1f}x  (target >= 40x)")
    print(f"ratio curl / check step:     {curl / step:.1f}x")


if __name__ == "__main__":
    main()
