"""``opsbook serve``: the worker, the API and the dashboard in one process."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from opsbook.cli.app import app
from opsbook.cli.common import project_store
from opsbook.cli.options import Now, SpecFile, StoreUrl


@app.command()
def serve(
    host: Annotated[str, typer.Option("--host", help="Address to listen on.")] = "127.0.0.1",
    port: Annotated[
        int, typer.Option("--port", help="Port to listen on.", min=0, max=65535)
    ] = 8710,
    tls_cert: Annotated[
        Path | None, typer.Option("--tls-cert", help="PEM certificate: serve HTTPS.")
    ] = None,
    tls_key: Annotated[Path | None, typer.Option("--tls-key", help="PEM private key.")] = None,
    insecure_http: Annotated[
        bool,
        typer.Option("--insecure-http", help="Allow plain HTTP on a non-loopback --host."),
    ] = False,
    poll: Annotated[float, typer.Option("--poll", help="Seconds between looks for runs.")] = 1.0,
    file: SpecFile = None,
    store: StoreUrl = None,
    now: Now = None,
) -> None:
    """Run the worker, the HTTP API (/api/v1) and the dashboard until SIGTERM or Ctrl-C.
    With --now, the clock of alerts, SLOs, incidents and on-call starts there and runs on
    (a drill, or yesterday's logs on the dashboard); runs keep the real clock."""
    from opsbook.clock import parse_time
    from opsbook.console import info
    from opsbook.web.server import Listen, check_listen
    from opsbook.web.server import serve as run_server

    listen = Listen(host, port, tls_cert, tls_key, insecure_http)
    check_listen(listen)
    start = parse_time(now) if now else None
    run_server(
        project_store(store, file),
        listen,
        spec_file=file,
        poll=poll,
        announce=info,
        now=start,
    )
