"""schemathesis against the OpenAPI schema of a real `opsbook serve`: generated requests, with an
admin token (the deepest paths) and with none, never get a 5xx."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings

from web_support import Serve, make_token, project, serving

# Runs finish on their own (no gates), so an event stream a generated id happens to open ends.
QUICK = """\
version: 1
project: shop
environments:
  local: {}
severities:
  P1: {respond: 15m}
flags:
  new-checkout: {default: false}
runbooks:
  quick:
    params: {who: {default: world}}
    steps:
      - id: hello
        run: echo hello ${{ params.who }}
"""


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Serve, str]]:
    root = project(tmp_path_factory.mktemp("schema"), QUICK)
    store_url = f"sqlite:///{root / 'state.db'}"
    token = make_token(root, store_url, "admin", "fuzzer")
    with serving(root, store_url) as server:
        yield server, token


SHARDS = 4


@pytest.fixture(scope="module")
def operations(served: tuple[Serve, str]) -> list[Any]:
    server, _ = served
    api = schemathesis.openapi.from_url(f"{server.url}/openapi.json")
    return [result.ok() for result in api.get_all_operations()]


def test_the_schema_describes_every_route(operations: list[Any]) -> None:
    paths = {operation.path for operation in operations}
    assert len(operations) >= 25, sorted(paths)
    assert {"/healthz", "/api/v1/runs", "/api/v1/alerts", "/api/v1/flags"} <= paths, sorted(paths)


# The operations are split into shards, one test each: under a loaded suite the whole schema in
# one test came close to the 30 s limit (9 s alone on a 2-core machine).
@pytest.mark.slow
@pytest.mark.parametrize("shard", range(SHARDS))
def test_no_request_gets_a_server_error(
    served: tuple[Serve, str], operations: list[Any], shard: int
) -> None:
    _, token = served
    checked = []
    statuses: Counter[int] = Counter()
    for operation in operations[shard::SHARDS]:

        @given(case=operation.as_strategy())
        @settings(
            max_examples=12,
            deadline=None,
            suppress_health_check=list(HealthCheck),
            derandomize=True,
            database=None,
        )
        def check(case: Any) -> None:
            for headers in ({"Authorization": f"Bearer {token}"}, {}):
                response = case.call(headers=headers, timeout=30)
                statuses[response.status_code] += 1
                where = (case.method, case.formatted_path, response.status_code)
                assert response.status_code < 500, (*where, response.text[:500])
                if not headers and case.path != "/healthz":
                    assert response.status_code == 401, where

        check()
        checked.append(f"{operation.method.upper()} {operation.path}")
    assert len(checked) >= 6, checked
    # The admin token got past authentication: real answers and real refusals both came back.
    assert sum(n for code, n in statuses.items() if code < 300) > 0, (checked, statuses)
    assert statuses[401] > 0, (checked, statuses)
