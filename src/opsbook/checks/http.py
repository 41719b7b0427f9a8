"""The ``http`` check type: a request, and what the response must look like.

A check passes when the response has the expected status, its JSON contains the expected subset,
each JMESPath expression yields its expected value, the body contains the expected text, and it
arrived within the expected time. Connection errors and timeouts are failures, never tracebacks.
httpx is imported when the first http check runs, not when a file is validated.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, Literal

from pydantic import Field

from opsbook.checks.base import CheckConfig, CheckContext, CheckResult, CheckType
from opsbook.spec.durations import Duration

if TYPE_CHECKING:
    import httpx

    from opsbook.spec.models import Spec


class HttpExpect(CheckConfig):
    """What an HTTP check expects of the response."""

    status: int | list[int] = 200
    json_: dict[str, Any] | None = Field(default=None, alias="json")
    jmespath: dict[str, Any] | None = None
    contains: str | None = None
    within: Duration | None = None


class HttpConfig(CheckConfig):
    http: str
    """The URL."""
    method: Literal["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"] = "GET"
    headers: dict[str, str] = Field(default_factory=dict)
    body: str | None = None
    expect: HttpExpect = Field(default_factory=HttpExpect)


class HttpCheck(CheckType):
    name = "http"
    config_type = HttpConfig

    def validate(self, config: Any, spec: Spec) -> list[str]:
        import jmespath
        from jmespath.exceptions import JMESPathError

        problems = []
        for expression in config.expect.jmespath or {}:
            try:
                jmespath.compile(expression)
            except JMESPathError as err:
                problems.append(f"bad JMESPath {expression!r}: {err}")
        return problems

    def render(self, config: Any, render: Callable[[str], str]) -> Any:
        """Everything but the URL, which ``run`` renders through :mod:`opsbook.urlsafe`."""
        rendered = super().render(config, render)
        rendered.http = config.http
        return rendered

    async def run(self, ctx: CheckContext, config: Any) -> CheckResult:
        import httpx

        from opsbook import urlsafe

        result = CheckResult(ctx.name)
        try:
            url = urlsafe.render_url(config.http, ctx.render)
        except urlsafe.UrlValueError as err:
            result.summary = "refused"
            result.fail("value", str(err))
            return result
        client = await ctx.http_client()
        start = time.perf_counter()
        try:
            response = await _request(client, config, url, ctx.timeout)
        except httpx.TimeoutException:
            result.summary = "no response"
            result.fail("timeout", f"no response within {ctx.timeout:g}s")
            return result
        except (httpx.InvalidURL, httpx.UnsupportedProtocol) as err:
            # httpx quotes part of the URL in these messages: half a secret would survive masking
            result.summary = "no response"
            result.fail("unreachable", f"{type(err).__name__}: the URL is not valid")
            return result
        except httpx.HTTPError as err:
            result.summary = "no response"
            result.fail("unreachable", f"cannot reach {url}: {type(err).__name__}: {err}")
            return result
        if config.headers and response.is_redirect:
            result.fail(
                "redirect",
                "a redirect to another host was not followed: the check's headers are sent"
                " only to the host written in the file",
            )
        elapsed = time.perf_counter() - start
        result.summary = f"HTTP {response.status_code}"
        result.value = float(response.status_code)
        for problem in expectation_problems(config.expect, response, elapsed):
            result.fail("expectation", problem)
        return result


async def _request(
    client: httpx.AsyncClient, config: Any, url: str, timeout: float
) -> httpx.Response:
    """The response; with headers (which may hold secrets) redirects stay on the same origin."""
    from opsbook import urlsafe

    response = await client.request(
        config.method,
        url,
        headers=config.headers,
        content=config.body,
        timeout=timeout,
        follow_redirects=not config.headers,
    )
    for _ in range(10):
        target = response.next_request
        if target is None or not urlsafe.same_origin(str(target.url), url):
            break
        response = await client.send(target, follow_redirects=False)
    return response


def expectation_problems(expect: HttpExpect, response: httpx.Response, elapsed: float) -> list[str]:
    """What about the response does not match ``expect``."""
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
        problems.extend(_jmespath_problems(expect.jmespath or {}, document))
    return problems


def _jmespath_problems(expressions: dict[str, Any], document: Any) -> list[str]:
    import jmespath
    from jmespath.exceptions import JMESPathError

    problems = []
    for expression, expected in expressions.items():
        try:
            actual = jmespath.search(expression, document)
        except JMESPathError as err:
            problems.append(f"jmespath {expression!r} is invalid: {err}")
            continue
        if actual != expected:
            problems.append(
                f"jmespath {expression!r} is {json.dumps(actual)}, expected {json.dumps(expected)}"
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
