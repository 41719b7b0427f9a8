"""OFREP over real HTTP on 127.0.0.1: the Python OpenFeature SDK with the OFREP provider reads a
boolean and a variant flag from `opsbook flags serve`; `opsbook flag kill` flips the next
evaluation; hostile requests get OFREP's error codes, never a traceback."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from tests.conftest import run_cli
from tests.flags_support import flags_server, free_port

from opsbook.auth import create_token
from opsbook.store import open_store

SPEC = """\
version: 1
project: shop
flags:
  new-checkout:
    default: false
    rollout: {percent: 100}
  partial:
    default: false
    rollout: {percent: 50}
  checkout-button:
    type: string
    default: blue
    variants:
      green: {value: green, weight: 500}
      red: {value: red, weight: 500}
"""


def _project_with_token(root: Path) -> str:
    """The three-flag project in root, and a viewer token for it."""
    (root / "opsbook.yaml").write_text(SPEC)
    store = open_store(root=root)
    try:
        return create_token(store, name="web-shop", role="viewer", created_by="test").token
    finally:
        store.close()


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, str, Path]]:
    """A project with three flags, a viewer token, and `opsbook flags serve` running for it
    (one server for the module: starting one costs seconds on a busy machine)."""
    tmp_path = tmp_path_factory.mktemp("ofrep")
    token = _project_with_token(tmp_path)
    with flags_server(tmp_path, free_port()) as url:
        yield url, token, tmp_path


def test_openfeature_sdk_evaluates_and_kill_flips_the_next_evaluation(
    served: tuple[str, str, Path],
) -> None:
    from openfeature import api
    from openfeature.contrib.provider.ofrep import OFREPProvider
    from openfeature.evaluation_context import EvaluationContext

    url, token, root = served
    api.set_provider(
        OFREPProvider(url, headers_factory=lambda: {"Authorization": f"Bearer {token}"})
    )
    try:
        client = api.get_client()
        ctx = EvaluationContext(targeting_key="user-42")
        on = client.get_boolean_details("new-checkout", False, ctx)
        assert (on.value, on.variant, on.reason) == (True, "on", "STATIC")
        button = client.get_string_details("checkout-button", "none", ctx)
        assert button.value in ("green", "red") and button.variant == button.value
        assert button.reason == "SPLIT"
        again = client.get_string_details("checkout-button", "none", ctx)
        assert again.value == button.value  # sticky

        killed = run_cli("flag", "kill", "new-checkout", "-m", "INC-1", cwd=root)
        assert killed.returncode == 0, killed.stderr
        off = client.get_boolean_details("new-checkout", True, ctx)
        assert (off.value, off.reason) == (False, "DISABLED")

        missing = client.get_boolean_details("partial", True, EvaluationContext())
        assert missing.value is True and missing.error_code is not None
        assert missing.error_code.value == "TARGETING_KEY_MISSING"
        unknown = client.get_boolean_details("nope", True, ctx)
        assert unknown.value is True and unknown.error_code is not None
        assert unknown.error_code.value == "FLAG_NOT_FOUND"
    finally:
        api.clear_providers()


def _post(url: str, path: str, token: str | None, body: bytes, **headers: str) -> httpx.Response:
    if token:
        headers["Authorization"] = f"Bearer {token}"
    return httpx.post(url + path, content=body, headers=headers, timeout=10)


def test_bulk_evaluation_has_an_etag_and_answers_304(served: tuple[str, str, Path]) -> None:
    url, token, root = served
    body = json.dumps({"context": {"targetingKey": "user-7"}}).encode()
    first = _post(url, "/ofrep/v1/evaluate/flags", token, body)
    assert first.status_code == 200
    flags = {f["key"]: f for f in first.json()["flags"]}
    assert flags["checkout-button"]["value"] in ("green", "red")
    assert flags["partial"]["value"] in (True, False)
    etag = first.headers["etag"]
    same = _post(url, "/ofrep/v1/evaluate/flags", token, body, **{"If-None-Match": etag})
    assert same.status_code == 304 and same.content == b""
    assert run_cli("flag", "set", "checkout-button", "--off", cwd=root).returncode == 0
    changed = _post(url, "/ofrep/v1/evaluate/flags", token, body, **{"If-None-Match": etag})
    assert changed.status_code == 200 and changed.headers["etag"] != etag


@pytest.mark.parametrize(
    ("path", "body", "status", "code"),
    [
        ("/ofrep/v1/evaluate/flags/new-checkout", b"{not json", 400, "PARSE_ERROR"),
        ("/ofrep/v1/evaluate/flags/new-checkout", b"[1, 2]", 400, "INVALID_CONTEXT"),
        ("/ofrep/v1/evaluate/flags/new-checkout", b'{"context": "x"}', 400, "INVALID_CONTEXT"),
        (
            "/ofrep/v1/evaluate/flags/new-checkout",
            b'{"context": {"targetingKey": 5}}',
            400,
            "INVALID_CONTEXT",
        ),
        ("/ofrep/v1/evaluate/flags/new-checkout", b"[" * 100000, 400, "INVALID_CONTEXT"),
        (
            "/ofrep/v1/evaluate/flags/new-checkout",
            b"[" * 5000 + b"]" * 5000,
            400,
            "PARSE_ERROR",
        ),
        (  # a lone surrogate is valid JSON but no string: it cannot be hashed or stored
            "/ofrep/v1/evaluate/flags/checkout-button",
            b'{"context": {"targetingKey": "\\ud800"}}',
            400,
            "INVALID_CONTEXT",
        ),
        (
            "/ofrep/v1/evaluate/flags",
            b'{"context": {"targetingKey": "u", "plan": "\\udfff"}}',
            400,
            "INVALID_CONTEXT",
        ),
        ("/ofrep/v1/evaluate/flags/partial", b'{"context": {}}', 400, "TARGETING_KEY_MISSING"),
        ("/ofrep/v1/evaluate/flags/..%2F..%2Fetc", b"{}", 404, "FLAG_NOT_FOUND"),
        ("/ofrep/v1/evaluate/flags", b"{oops", 400, "PARSE_ERROR"),
    ],
)
def test_hostile_requests_get_ofrep_errors(
    served: tuple[str, str, Path], path: str, body: bytes, status: int, code: str
) -> None:
    url, token, _ = served
    reply = _post(url, path, token, body)
    assert reply.status_code == status, reply.text
    assert reply.json()["errorCode"] == code
    assert "Traceback" not in reply.text


def test_requests_without_a_valid_token_are_refused(served: tuple[str, str, Path]) -> None:
    url, token, _ = served
    path = "/ofrep/v1/evaluate/flags/new-checkout"
    assert _post(url, path, None, b"{}").status_code == 401
    wrong = token[:-4] + "AAAA"
    reply = _post(url, path, wrong, b"{}")
    assert reply.status_code == 401 and wrong not in reply.text
    assert _post(url, path, "opsbook_x", b"{}").status_code == 401


def test_other_methods_and_paths_are_refused_plainly(served: tuple[str, str, Path]) -> None:
    """The OFREP app answers only POST under /ofrep/v1/evaluate/flags; the rest is a JSON 405 or
    404, not a traceback (the app is plain ASGI, no framework routes for it)."""
    url, token, _ = served
    auth = {"Authorization": f"Bearer {token}"}
    got = httpx.get(f"{url}/ofrep/v1/evaluate/flags/new-checkout", headers=auth, timeout=10)
    assert got.status_code == 405 and got.headers["allow"] == "POST"
    elsewhere = httpx.post(f"{url}/ofrep/v1/evaluate/flagsX", headers=auth, timeout=10)
    assert elsewhere.status_code == 404 and elsewhere.json()["errorCode"] == "GENERAL"


def test_several_workers_answer_and_a_kill_reaches_each_of_them(
    tmp_path_factory: pytest.TempPathFactory,
) -> None:
    """`--workers 2`: two processes share the port, each reading the store on every
    evaluation, so after `opsbook flag kill` no connection (whichever worker it lands on)
    still serves the flag on."""
    root = tmp_path_factory.mktemp("workers")
    token = _project_with_token(root)
    path = "/ofrep/v1/evaluate/flags/new-checkout"
    body = b'{"context": {"targetingKey": "u1"}}'
    with flags_server(root, free_port(), None, "--workers", "2") as url:
        before = {_post(url, path, token, body).json()["value"] for _ in range(20)}
        assert before == {True}
        killed = run_cli("flag", "kill", "new-checkout", "-m", "INC-2", cwd=root)
        assert killed.returncode == 0, killed.stderr
        after = {_post(url, path, token, body).json()["value"] for _ in range(20)}
        assert after == {False}


def test_workers_out_of_range_are_refused(tmp_path: Path) -> None:
    (tmp_path / "opsbook.yaml").write_text(SPEC)
    done = run_cli("flags", "serve", "--workers", "0", cwd=tmp_path)
    assert done.returncode == 2 and "--workers 0 is out of range" in done.stderr
