"""The ``tcp`` check type: something accepts connections at ``HOST:PORT``."""

from __future__ import annotations

import asyncio
import contextlib
import time
from typing import Any

from pydantic import Field, field_validator

from opsbook.checks.base import CheckConfig, CheckContext, CheckResult, CheckType
from opsbook.spec.durations import Duration


class TcpExpect(CheckConfig):
    within: Duration | None = None


class TcpConfig(CheckConfig):
    tcp: str
    """``HOST:PORT`` (``[::1]:5432`` for IPv6)."""
    expect: TcpExpect = Field(default_factory=TcpExpect)

    @field_validator("tcp")
    @classmethod
    def _address(cls, value: str) -> str:
        if "${{" not in value:
            split_address(value)
        return value


def split_address(address: str) -> tuple[str, int]:
    """``HOST:PORT`` as a pair; ValueError naming the fix.

    >>> split_address("127.0.0.1:5432"), split_address("[::1]:80")
    (('127.0.0.1', 5432), ('::1', 80))
    """
    host, sep, port = address.strip().rpartition(":")
    if not sep or not host or not port.isdigit() or not 0 < int(port) < 65536:
        raise ValueError(f"{address!r} is not HOST:PORT; write e.g. 127.0.0.1:5432")
    return host.strip("[]"), int(port)


class TcpCheck(CheckType):
    name = "tcp"
    config_type = TcpConfig

    async def run(self, ctx: CheckContext, config: Any) -> CheckResult:
        result = CheckResult(ctx.name)
        try:
            host, port = split_address(config.tcp)
        except ValueError as err:
            result.fail("address", str(err))
            return result
        start = time.perf_counter()
        try:
            _, writer = await asyncio.wait_for(asyncio.open_connection(host, port), ctx.timeout)
        except TimeoutError:
            result.summary = "no answer"
            result.fail("timeout", f"{host}:{port} did not accept within {ctx.timeout:g}s")
            return result
        except OSError as err:
            result.summary = "refused"
            result.fail("unreachable", f"cannot connect to {host}:{port}: {err.strerror or err}")
            return result
        elapsed = time.perf_counter() - start
        writer.close()
        with contextlib.suppress(OSError):
            await writer.wait_closed()
        result.summary, result.value = "connected", elapsed
        within = config.expect.within
        if within is not None and elapsed > within:
            result.fail("slow", f"took {elapsed:.3f}s to connect, expected within {within:g}s")
        return result
