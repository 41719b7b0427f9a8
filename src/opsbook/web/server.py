"""The ``opsbook serve`` process: HTTP in a thread, the worker in the main thread.

The worker runs in the main thread so that SIGTERM and Ctrl-C reach the run in flight the way
Ctrl-C reaches ``opsbook run``: its steps are stopped, their state is checkpointed and the lease
is released at once, so another ``serve`` (or the next start of this one) continues the run
without waiting for the lease to expire. Then the HTTP server stops taking requests, lets
requests in flight finish (5 s at most) and ends open event streams.
"""

from __future__ import annotations

import ipaddress
import signal
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from types import FrameType

from opsbook.clock import utcnow
from opsbook.errors import UsageError
from opsbook.store import Store

START_TIMEOUT = 30.0


@dataclass(frozen=True)
class Listen:
    host: str = "127.0.0.1"
    port: int = 8710
    tls_cert: Path | None = None
    tls_key: Path | None = None
    insecure_http: bool = False

    @property
    def url(self) -> str:
        scheme = "https" if self.tls_cert else "http"
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"{scheme}://{host}:{self.port}"


def check_listen(listen: Listen) -> None:
    """Only loopback may serve plain HTTP unless the user says ``--insecure-http``."""
    if (listen.tls_cert is None) != (listen.tls_key is None):
        raise UsageError("--tls-cert and --tls-key go together", hint="give both or neither")
    if listen.tls_cert is not None or listen.insecure_http or _loopback(listen.host):
        return
    raise UsageError(
        f"--host {listen.host} is not loopback and would serve tokens and passwords in clear",
        hint="give --tls-cert and --tls-key, or --insecure-http behind a TLS proxy",
    )


def _loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def serve(
    store: Store,
    listen: Listen,
    *,
    spec_file: Path | None = None,
    poll: float = 1.0,
    announce: Callable[[str], None] = lambda _: None,
    now: datetime | None = None,
) -> None:
    """Serve until SIGTERM or Ctrl-C; the worker takes runs meanwhile. ``now`` starts the clock
    of operations (the watcher, alerts, SLOs, incidents, on-call) there, and it runs on."""
    import uvicorn

    from opsbook.engine import work
    from opsbook.web.app import create_app
    from opsbook.web.context import ServeContext

    check_listen(listen)
    context = ServeContext(store, spec_file, secure=listen.tls_cert is not None)
    if now is not None:
        context.offset = now - utcnow()
    config = uvicorn.Config(
        create_app(context),
        host=listen.host,
        port=listen.port,
        log_level="warning",
        access_log=False,
        ssl_certfile=str(listen.tls_cert) if listen.tls_cert else None,
        ssl_keyfile=str(listen.tls_key) if listen.tls_key else None,
        timeout_graceful_shutdown=5,
    )
    server = uvicorn.Server(config)
    http = threading.Thread(target=server.run, name="opsbook-http", daemon=True)
    http.start()
    deadline = time.monotonic() + START_TIMEOUT
    while not server.started and http.is_alive() and time.monotonic() < deadline:
        time.sleep(0.02)
    if not server.started:
        server.should_exit = True
        raise UsageError(
            f"could not listen on {listen.url}",
            hint="is the port in use? choose another with --port",
        )
    announce(f"serving {listen.url} (API {listen.url}/api/v1, dashboard {listen.url}/)")
    stopping = threading.Event()

    def on_signal(signum: int, _frame: FrameType | None) -> None:
        if stopping.is_set():
            return  # already draining
        stopping.set()
        raise KeyboardInterrupt  # reaches the run in flight like Ctrl-C

    watcher = _start_watcher(store, spec_file, stopping, announce, context.now)
    previous = signal.signal(signal.SIGTERM, on_signal)
    previous_int = signal.signal(signal.SIGINT, on_signal)
    try:
        work(store, poll=poll, should_stop=stopping.is_set)
    except KeyboardInterrupt:
        pass
    finally:
        stopping.set()
        signal.signal(signal.SIGTERM, previous)
        signal.signal(signal.SIGINT, previous_int)
        server.should_exit = True
        if watcher is not None:
            watcher.join(15)
        http.join(15)
        announce("stopped")


def _start_watcher(
    store: Store,
    spec_file: Path | None,
    stop: threading.Event,
    announce: Callable[[str], None],
    clock: Callable[[], datetime],
) -> threading.Thread | None:
    """The watcher (``opsbook watch``'s ticks: metrics, alerts, notifications, and what other
    packages register), in a thread; each tick is leased, so several ``serve`` share them."""
    from opsbook.errors import OpsbookError
    from opsbook.monitor.watch import watch
    from opsbook.spec.loader import load_spec

    try:
        loaded = load_spec(spec_file)
    except OpsbookError as err:
        announce(f"watcher not started: {err}")
        return None

    def loop() -> None:
        try:
            watch(store, loaded, stop=stop, start=clock())
        except OpsbookError as err:  # reported, not fatal: the worker and the API go on
            announce(f"watcher stopped: {err}")

    thread = threading.Thread(target=loop, name="opsbook-watcher", daemon=True)
    thread.start()
    return thread
