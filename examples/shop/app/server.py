"""The shop web service (standard library only).

GET /health        liveness: {"status": "ok", "version": V}
GET /api/health    providers map: each provider healthy, degraded or unavailable;
                   503 when any is unavailable
GET /version       {"version": V}
GET /api/products  the catalogue from the SQLite database

Configuration comes from the environment (the contract in ../opsbook.yaml): SHOP_PORT (default
8081, always bound to 127.0.0.1), DATABASE_PATH (default .state/shop.db), SHOP_VERSION or a
VERSION file beside this script, the provider variables (SENTRY_DSN, POSTHOG_API_KEY, ...) and
SHOP_SIMULATE (e.g. ``payments=unavailable``) to make a provider fail on purpose in demos.
Secret values are never printed: the startup line names which variables are set, nothing more.
"""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import sys
import threading
import time
from collections.abc import Mapping
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from types import FrameType
from typing import Any

import shopdb

HERE = Path(__file__).resolve().parent
DEFAULT_PORT = 8081
STATUSES = ("healthy", "degraded", "unavailable")

# Provider → the contract variables it needs; a provider missing any of them is degraded
# (the shop still sells, but without error tracking, analytics or auth).
PROVIDER_VARS: dict[str, tuple[str, ...]] = {
    "sentry": ("SENTRY_DSN", "NEXT_PUBLIC_SENTRY_DSN"),
    "posthog": ("POSTHOG_API_KEY",),
    "supabase": (
        "NEXT_PUBLIC_SUPABASE_URL",
        "NEXT_PUBLIC_SUPABASE_ANON_KEY",
        "SUPABASE_SERVICE_ROLE_KEY",
    ),
}
CONTRACT_VARS = (
    "SENTRY_DSN",
    "NEXT_PUBLIC_SENTRY_DSN",
    "POSTHOG_API_KEY",
    "POSTHOG_HOST",
    "OPENAI_API_KEY",
    "NEXT_PUBLIC_SUPABASE_URL",
    "NEXT_PUBLIC_SUPABASE_ANON_KEY",
    "SUPABASE_SERVICE_ROLE_KEY",
)


class Config:
    """What the service reads from its environment, resolved once at startup."""

    def __init__(self, environ: Mapping[str, str], home: Path = HERE) -> None:
        self.environ = dict(environ)
        self.port = int(environ.get("SHOP_PORT") or DEFAULT_PORT)
        db = Path(environ.get("DATABASE_PATH") or ".state/shop.db")
        self.db_path = db if db.is_absolute() else Path.cwd() / db
        self.version = environ.get("SHOP_VERSION") or _version_file(home) or "dev"
        self.simulate = _parse_simulate(environ.get("SHOP_SIMULATE", ""))
        self.quiet = environ.get("SHOP_QUIET") == "1"  # the unit tests' servers log nothing
        log = Path(environ.get("SHOP_LOG") or "logs/shop.jsonl")
        self.log_path = log if log.is_absolute() else Path.cwd() / log

    def is_set(self, name: str) -> bool:
        return bool(self.environ.get(name, "").strip())


def _version_file(home: Path) -> str | None:
    path = home / "VERSION"
    if not path.is_file():
        return None
    return path.read_text(encoding="utf-8").strip() or None


def _parse_simulate(text: str) -> dict[str, str]:
    """``"payments=unavailable,posthog=degraded"`` → a map of forced provider statuses."""
    forced: dict[str, str] = {}
    for part in filter(None, (p.strip() for p in text.split(","))):
        provider, _, status = part.partition("=")
        if status not in STATUSES:
            raise ValueError(
                f"SHOP_SIMULATE: {part!r}; write PROVIDER=healthy|degraded|unavailable"
            )
        forced[provider.strip()] = status
    return forced


def providers(config: Config) -> dict[str, dict[str, Any]]:
    """The /api/health providers map: status plus a detail that never holds a secret value."""
    out: dict[str, dict[str, Any]] = {}
    try:
        schema = shopdb.schema_version(config.db_path)
        if schema is None:
            out["database"] = {"status": "unavailable", "detail": "not migrated"}
        else:
            out["database"] = {"status": "healthy", "schema": schema}
    except sqlite3.Error as err:
        out["database"] = {"status": "unavailable", "detail": f"sqlite: {err}"}
    out["payments"] = {"status": "healthy", "mode": "sandbox"}
    for provider, names in PROVIDER_VARS.items():
        missing = [n for n in names if not config.is_set(n)]
        out[provider] = (
            {"status": "degraded", "detail": "not configured: " + ", ".join(missing)}
            if missing
            else {"status": "healthy"}
        )
    # Optional ("present so the AI agent constructor can hydrate"); absence is fine.
    out["openai"] = {"status": "healthy", "configured": config.is_set("OPENAI_API_KEY")}
    for provider, status in config.simulate.items():
        out.setdefault(provider, {})["status"] = status
        out[provider]["detail"] = "simulated by SHOP_SIMULATE"
    return out


def route(config: Config, path: str) -> tuple[int, dict[str, Any]]:
    """Status code and JSON body for a GET of path."""
    path = path.split("?", 1)[0].rstrip("/") or "/"
    if path == "/health":
        return 200, {"status": "ok", "version": config.version}
    if path == "/version":
        return 200, {"version": config.version}
    if path == "/api/health":
        found = providers(config)
        statuses = {p["status"] for p in found.values()}
        # The worst provider status is the service's: unavailable > degraded > healthy.
        overall = max(statuses, key=STATUSES.index, default="healthy")
        code = 503 if overall == "unavailable" else 200
        return code, {"status": overall, "version": config.version, "providers": found}
    if path == "/api/products":
        try:
            return 200, {"products": shopdb.products(config.db_path)}
        except sqlite3.Error as err:
            return 503, {"error": f"database unavailable: {err}"}
    return 404, {"error": f"no route {path}", "routes": ["/health", "/api/health", "/version"]}


_LOG_LOCK = threading.Lock()


def access_log(config: Config, path: str, status: int, seconds: float) -> None:
    """One JSON line per request (what `opsbook monitor` reads): time, level, route, status,
    duration. Paths only, never query strings, headers or bodies."""
    if config.quiet:
        return
    now = datetime.now(UTC)
    record = {
        "ts": now.strftime("%Y-%m-%dT%H:%M:%S.") + f"{now.microsecond // 1000:03d}Z",
        "level": "error" if status >= 500 else "info",
        "event": "request",
        "route": path.split("?", 1)[0],
        "status": status,
        "duration_ms": round(seconds * 1000, 3),
        "version": config.version,
    }
    with _LOG_LOCK:
        config.log_path.parent.mkdir(parents=True, exist_ok=True)
        with config.log_path.open("a") as out:
            out.write(json.dumps(record, separators=(",", ":")) + "\n")


def make_server(config: Config, port: int | None = None) -> ThreadingHTTPServer:
    """An HTTP server on 127.0.0.1 (never all interfaces); port 0 picks a free one."""

    class Handler(BaseHTTPRequestHandler):
        server_version = "shop/" + config.version

        def do_GET(self) -> None:
            started = time.monotonic()
            code, body = route(config, self.path)
            data = json.dumps(body).encode()
            self.send_response(code)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)
            access_log(config, self.path, code, time.monotonic() - started)

        def log_message(self, format: str, *args: Any) -> None:
            # Request lines only (method, path, status): no headers, no bodies, no secrets.
            if not config.quiet:
                sys.stderr.write(f"shop {config.version}: {format % args}\n")

    return ThreadingHTTPServer(("127.0.0.1", config.port if port is None else port), Handler)


def main() -> int:
    """Serve until SIGTERM or SIGINT."""
    try:
        config = Config(os.environ)
        server = make_server(config)
    except (ValueError, OSError) as err:
        print(f"shop: cannot start: {err}", file=sys.stderr)
        return 1

    def stop(signum: int, frame: FrameType | None) -> None:
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, stop)
    configured = [n for n in CONTRACT_VARS if config.is_set(n)]
    print(
        f"shop {config.version} listening on http://127.0.0.1:{server.server_address[1]} "
        f"(database {config.db_path}; set: {', '.join(configured) or 'none'})",
        flush=True,
    )
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()
    print(f"shop {config.version} stopped", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
