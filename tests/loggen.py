"""A deterministic generator of JSON-log fixtures (the tests' and the bench's recorded logs).

A log is a base traffic pattern plus *incidents*: time ranges in which error rates, latencies,
payment failures, agent errors, DB pool use, failed logins or queue backlog change. The same
arguments always give the same bytes (seeded ``random.Random``), so tests can assert exact
transition times. Run as a script to write a large file for bench/:

    python tests/loggen.py OUT.jsonl --lines 1000000
"""

from __future__ import annotations

import argparse
import json
import random
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

ROUTES = ["/", "/products", "/cart", "/checkout", "/api/orders"]


@dataclass(frozen=True)
class Incident:
    """From ``start`` for ``minutes``, the given rates replace the base ones."""

    start: datetime
    minutes: float
    error_rate: float | None = None
    slow_ms: int | None = None
    payment_failures_per_min: float | None = None
    agent_errors_per_min: float | None = None
    db_pool_in_use: int | None = None
    failed_login_rate: float | None = None
    backlog_minutes: float | None = None

    def covers(self, t: datetime) -> bool:
        return self.start <= t < self.start + timedelta(minutes=self.minutes)


@dataclass
class Traffic:
    """The base pattern: requests per second and their normal behaviour."""

    start: datetime
    minutes: float
    per_second: float = 2.0
    error_rate: float = 0.01
    base_ms: int = 120
    db_pool_size: int = 100
    db_pool_in_use: int = 30
    failed_login_rate: float = 0.01
    seed: int = 12
    incidents: list[Incident] = field(default_factory=list)
    wide: bool = False
    """Add the fields a real access log carries (request id, client, user agent): ~230 bytes."""

    def active(
        self, t: datetime, name: str, default: float | None, live: list[Incident] | None = None
    ) -> float | None:
        """The first incident's value of ``name`` at t, else default; ``live``: the incidents
        already known to cover t (lines() finds them once per record, not once per field)."""
        for incident in self.incidents if live is None else live:
            value = getattr(incident, name)
            if value is not None and (live is not None or incident.covers(t)):
                return float(value)
        return default


def _ts(t: datetime) -> str:
    return t.strftime("%Y-%m-%dT%H:%M:%S.") + f"{t.microsecond // 1000:03d}Z"


def lines(traffic: Traffic) -> Iterator[dict[str, object]]:
    """Every log record in time order."""
    rng = random.Random(traffic.seed)
    step = 1.0 / traffic.per_second
    total = int(traffic.minutes * 60 * traffic.per_second)
    carry = {"payment": 0.0, "agent": 0.0}
    for i in range(total):
        t = traffic.start + timedelta(seconds=i * step)
        live = [incident for incident in traffic.incidents if incident.covers(t)]
        ts = _ts(t)
        error_rate = traffic.active(t, "error_rate", traffic.error_rate, live) or 0.0
        slow = traffic.active(t, "slow_ms", None, live)
        failed = rng.random() < error_rate
        duration = int(rng.expovariate(1 / traffic.base_ms)) + 5
        if slow is not None:
            duration = int(slow * (0.8 + rng.random() * 0.4))
        route = ROUTES[i % len(ROUTES)]
        record: dict[str, object] = {
            "ts": ts,
            "level": "error" if failed else "info",
            "event": "request",
            "route": route,
            "status": 500 if failed else 200,
            "duration_ms": duration,
        }
        if traffic.wide:
            record["request_id"] = f"{traffic.seed:04x}{i:028x}"
            record["client_ip"] = f"10.{i % 200}.{i // 200 % 250}.{i % 17 + 1}"
            record["user_agent"] = "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 Chrome/131"
        yield record
        if i % int(traffic.per_second * 10) == 0:  # every 10 s: pool, logins, backlog
            in_use = traffic.active(t, "db_pool_in_use", traffic.db_pool_in_use, live)
            yield {
                "ts": ts,
                "level": "info",
                "event": "db_pool",
                "in_use": int(in_use or 0),
                "size": traffic.db_pool_size,
            }
            login_fail = traffic.active(t, "failed_login_rate", traffic.failed_login_rate, live)
            login_fail = login_fail or 0.0
            for _ in range(5):
                ok = rng.random() >= login_fail
                yield {"ts": ts, "level": "info" if ok else "warn", "event": "login", "ok": ok}
            backlog = traffic.active(t, "backlog_minutes", 1.0, live) or 0.0
            yield {
                "ts": ts,
                "level": "info",
                "event": "queue",
                "oldest_age_s": int(backlog * 60),
            }
        for kind, name in (
            ("payment", "payment_failures_per_min"),
            ("agent", "agent_errors_per_min"),
        ):
            per_min = traffic.active(t, name, 0.0, live) or 0.0
            carry[kind] += per_min * step / 60
            while carry[kind] >= 1:
                carry[kind] -= 1
                event = "payment_failed" if kind == "payment" else "agent_error"
                yield {"ts": ts, "level": "error", "event": event, "route": "/checkout"}


def write(path: Path, traffic: Traffic) -> int:
    """Write the log; returns the number of lines."""
    path.parent.mkdir(parents=True, exist_ok=True)
    count = 0
    encode = json.JSONEncoder(separators=(",", ":")).encode  # json.dumps, minus its set-up
    with path.open("w") as out:
        for record in lines(traffic):
            out.write(encode(record) + "\n")
            count += 1
    return count


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("out", type=Path)
    parser.add_argument("--lines", type=int, default=1_000_000)
    args = parser.parse_args()
    start = datetime(2026, 11, 30, tzinfo=UTC)
    per_second = 12.0
    minutes = args.lines / per_second / 60 / 1.058  # extra records: pool, logins, queue
    traffic = Traffic(
        start,
        minutes,
        per_second=per_second,
        wide=True,
        incidents=[
            Incident(start + timedelta(hours=5), 20, error_rate=0.2),
            Incident(start + timedelta(hours=9), 30, slow_ms=4000),
        ],
    )
    print(write(args.out, traffic))


if __name__ == "__main__":
    main()
