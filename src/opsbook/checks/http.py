"""Named HTTP checks (``checks:`` in opsbook.yaml), run concurrently with httpx.

A check passes when the response has the expected status, its JSON contains the expected subset,
each JMESPath expression yields its expected value, the body contains the expected text, and it
arrived within the expected time. Connection errors and timeouts are failures, never tracebacks.
"""

from __future__ import annotations

import asyncio
import json
import ssl
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import httpx
import jmespath
from jmespath.exceptions import JMESPathError

from opsbook.spec.models import Check


@dataclass
class HttpProbe:
    """One check, its templates rendered."""

    name: str
    check: Check
    url: str
    headers: dict[str, str] = field(default_factory=dict)
    body: str | None = None


@dataclass
class CheckOutcome:
    """How one probe went; ``problems`` is empty when it passed."""

    name: str
    url: str
    status: int | None
    elapsed: float
    problems: list[str]

    @property
    def ok(self) -> bool:
        return not self.problems


def run_http_checks(
    probes: Sequence[HttpProbe], *, timeout: float | None = None
) -> list[CheckOutcome]:
    """Run every probe at once; outcomes in the order given. ``timeout`` caps each probe."""
    return asyncio.run(_run_all(probes, timeout))


async def _run_all(probes: Sequence[HttpProbe], cap: float | None) -> list[CheckOutcome]:
    # One connection per probe: a pool smaller than the batch would serialise slow endpoints.
    limits = httpx.Limits(max_connections=max(len(probes), 1), max_keepalive_connections=0)
    transport = _BySchemeTransport(limits)
    async with httpx.AsyncClient(transport=transport, follow_redirects=True) as client:
        return list(await asyncio.gather(*(_one(client, p, cap) for p in probes)))


class _BySchemeTransport(httpx.AsyncBaseTransport):
    """httpx's transport, with the certificate-verifying one built on the first https request.

    Loading the CA bundle takes about 30 ms, a tenth of a batch of local http checks that never
    use it. https requests (a redirect included) get the default, verifying transport; plain
    http ones a transport whose TLS context trusts nothing, which plain http never uses.
    """

    def __init__(self, limits: httpx.Limits) -> None:
        self.limits = limits
        self.plain = httpx.AsyncHTTPTransport(
            limits=limits, verify=ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
        )
        self.tls: httpx.AsyncHTTPTransport | None = None

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        if request.url.scheme != "https":
            return await self.plain.handle_async_request(request)
        if self.tls is None:
            self.tls = httpx.AsyncHTTPTransport(limits=self.limits)
        return await self.tls.handle_async_request(request)

    async def aclose(self) -> None:
        await self.plain.aclose()
        if self.tls is not None:
            await self.tls.aclose()


async def _one(client: httpx.AsyncClient, probe: HttpProbe, cap: float | None) -> CheckOutcome:
    check = probe.check
    timeout = float(check.timeout) if cap is None else min(float(check.timeout), cap)
    start = time.perf_counter()
    try:
        response = await client.request(
            check.method,
            probe.url,
            headers=probe.headers,
            content=probe.body,
            timeout=timeout,
        )
    except httpx.TimeoutException:
        return CheckOutcome(
            probe.name,
            probe.url,
            None,
            time.perf_counter() - start,
            [f"no response within {timeout:g}s"],
        )
    except httpx.HTTPError as err:
        return CheckOutcome(
            probe.name,
            probe.url,
            None,
            time.perf_counter() - start,
            [f"cannot reach {probe.url}: {type(err).__name__}: {err}"],
        )
    elapsed = time.perf_counter() - start
    return CheckOutcome(
        probe.name,
        probe.url,
        response.status_code,
        elapsed,
        expectation_problems(check, response, elapsed),
    )


def expectation_problems(check: Check, response: httpx.Response, elapsed: float) -> list[str]:
    """What about the response does not match ``check.expect``."""
    expect = check.expect
    problems: list[str] = []
    wanted = expect.status if isinstance(expect.status, list) else [expect.status]
    if response.status_code not in wanted:
        problems.append(f"status {response.status_code}, expected {' or '.join(map(str, wanted))}")
    if expect.within is not None and elapsed > float(expect.within):
        problems.append(f"took {elapsed:.3f}s, expected within {float(expect.within):g}s")
    if expect.contains is not None and expect.contains not in response.text:
        problems.append(f"body does not contain {expect.contains!r}")
    if expect.json_ is not None or expect.jmespath is not None:
        try:
            document = response.json()
        except (json.JSONDecodeError, UnicodeDecodeError):
            problems.append("body is not JSON")
            return problems
        if expect.json_ is not None:
            problems.extend(subset_problems(expect.json_, document, "$"))
        for expression, expected in (expect.jmespath or {}).items():
            try:
                actual = jmespath.search(expression, document)
            except JMESPathError as err:
                problems.append(f"jmespath {expression!r} is invalid: {err}")
                continue
            if actual != expected:
                problems.append(
                    f"jmespath {expression!r} is {json.dumps(actual)},"
                    f" expected {json.dumps(expected)}"
                )
    return problems


def subset_problems(expected: Any, actual: Any, path: str) -> list[str]:
    """Where ``actual`` does not contain ``expected`` (dicts: subset; other values: equal).

    >>> subset_problems({"status": "ok"}, {"status": "down", "v": 2}, "$")
    ['$.status is "down", expected "ok"']
    """
    if isinstance(expected, dict):
        if not isinstance(actual, dict):
            return [f"{path} is {json.dumps(actual)}, expected an object"]
        problems: list[str] = []
        for key, value in expected.items():
            if key not in actual:
                problems.append(f"{path}.{key} is missing")
            else:
                problems.extend(subset_problems(value, actual[key], f"{path}.{key}"))
        return problems
    if actual != expected:
        return [f"{path} is {json.dumps(actual)}, expected {json.dumps(expected)}"]
    return []
