"""API tokens, users, sessions and roles, against a real store and the real CLI."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest
from sqlalchemy import select

from conftest import run_cli
from opsbook.auth import (
    Principal,
    Role,
    add_user,
    authenticate,
    create_token,
    list_tokens,
    login,
    logout,
    revoke_token,
    session,
)
from opsbook.errors import Forbidden, Unauthenticated, UsageError
from opsbook.store import Store, schema

PASSWORD = "correct horse"  # pragma: allowlist secret
SHORT = "short"  # pragma: allowlist secret

pytestmark = pytest.mark.store


@pytest.fixture
def store(store_url: str, stores: Callable[[str], Store]) -> Store:
    return stores(store_url)


def test_a_token_authenticates_as_its_name_and_role(store: Store) -> None:
    new = create_token(store, name="release-approver", role="approver", created_by="ops")
    who = authenticate(store, f"Bearer {new.token}")
    assert who == Principal("token", "release-approver", Role.APPROVER)
    assert who.actor == "token:release-approver"
    assert authenticate(store, new.token).role is Role.APPROVER


def test_only_the_hash_is_stored_and_listing_never_shows_the_secret(store: Store) -> None:
    new = create_token(store, name="ci", role="operator", created_by="ops")
    with store.begin() as conn:
        stored = [tuple(map(str, r)) for r in conn.execute(select(schema.tokens)).all()]
        events = [r.data for r in conn.execute(select(schema.events)).all()]
    secret = new.token.split("_", 2)[2]
    assert all(secret not in field for row in stored for field in row)
    assert all(secret not in e for e in events)
    assert [t.name for t in list_tokens(store)] == ["ci"]


@pytest.mark.parametrize(
    "bearer",
    [
        None,
        "",
        "Bearer ",
        "Basic dXNlcjpwYXNz",
        "opsbook_",
        "opsbook__x",
        "opsbook_zzzz_notarealsecret",
        "opsbook_' OR 1=1 --_x",
        "x" * 10_000,
    ],
)
def test_hostile_or_unknown_bearers_are_unauthenticated(store: Store, bearer: str | None) -> None:
    create_token(store, name="real", role="admin", created_by="ops")
    with pytest.raises(Unauthenticated) as info:
        authenticate(store, bearer)
    assert info.value.http_status == 401
    assert len(str(info.value)) < 200  # never echoes a huge input


def test_a_tampered_token_with_a_real_id_is_refused(store: Store) -> None:
    new = create_token(store, name="real", role="admin", created_by="ops")
    with pytest.raises(Unauthenticated, match="unknown token"):
        authenticate(store, new.token[:-1] + ("A" if new.token[-1] != "A" else "B"))


def test_a_revoked_token_stops_working_and_the_revocation_is_audited(store: Store) -> None:
    new = create_token(store, name="old", role="operator", created_by="ops")
    revoke_token(store, "old", by="alice")
    with pytest.raises(Unauthenticated, match="revoked"):
        authenticate(store, new.token)
    with store.begin() as conn:
        types = [(r.type, r.actor) for r in conn.execute(select(schema.events)).all()]
    assert ("token_created", "ops") in types and ("token_revoked", "alice") in types


def test_token_names_and_roles_are_checked(store: Store) -> None:
    with pytest.raises(UsageError, match="unknown role 'root'"):
        create_token(store, name="x", role="root", created_by="ops")
    with pytest.raises(UsageError, match="not allowed"):
        create_token(store, name="a b; rm -rf /", role="viewer", created_by="ops")
    create_token(store, name="dup", role="viewer", created_by="ops")
    with pytest.raises(UsageError, match="exists"):
        create_token(store, name="dup", role="viewer", created_by="ops")


def test_roles_are_ordered() -> None:
    viewer = Principal("token", "v", Role.VIEWER)
    approver = Principal("user", "a", Role.APPROVER)
    with pytest.raises(Forbidden, match="needs operator") as info:
        viewer.require(Role.OPERATOR, "starting a run")
    assert info.value.http_status == 403
    approver.require(Role.OPERATOR, "starting a run")
    with pytest.raises(Forbidden):
        approver.require(Role.ADMIN, "creating tokens")


def test_login_opens_a_session_and_logout_ends_it(store: Store) -> None:
    add_user(store, name="alice", role="approver", password=PASSWORD, by="ops")
    opened = login(store, "alice", "correct horse")
    assert session(store, opened.cookie).principal.actor == "user:alice"
    assert session(store, opened.cookie).csrf == opened.csrf
    logout(store, opened.cookie)
    with pytest.raises(Unauthenticated):
        session(store, opened.cookie)


def test_failed_logins_lock_the_user_and_say_for_how_long(store: Store) -> None:
    add_user(store, name="bob", role="viewer", password=PASSWORD, by="ops")
    for _ in range(5):
        with pytest.raises(Unauthenticated, match="wrong user name or password"):
            login(store, "bob", "guess", now=1000.0)
    # Even the right password is refused while locked.
    with pytest.raises(Unauthenticated, match="too many failed logins; try again in 60s"):
        login(store, "bob", "correct horse", now=1000.0)
    assert login(store, "bob", "correct horse", now=1061.0).principal.name == "bob"


def test_unknown_users_get_the_same_answer_as_wrong_passwords(store: Store) -> None:
    with pytest.raises(Unauthenticated, match=r"^wrong user name or password$"):
        login(store, "nobody' --", "x" * 5000)


def test_short_passwords_are_refused(store: Store) -> None:
    with pytest.raises(UsageError, match="shorter than 8"):
        add_user(store, name="carol", role="viewer", password=SHORT, by="ops")


def test_cli_prints_the_token_once_and_lists_without_it(tmp_path: Path, store_url: str) -> None:
    env = {"OPSBOOK_DATABASE_URL": store_url, "OPSBOOK_OPERATOR": "tester"}
    made = run_cli("token", "create", "--role", "approver", "--name", "rel", cwd=tmp_path, env=env)
    assert made.returncode == 0, made.stderr
    token = made.stdout.strip()
    assert token.startswith("opsbook_") and "shown once" in made.stderr
    listed = run_cli("token", "list", "--json", cwd=tmp_path, env=env)
    rows = json.loads(listed.stdout)
    assert [(r["name"], r["role"], r["created_by"]) for r in rows] == [
        ("rel", "approver", "tester")
    ]
    assert token not in listed.stdout
    bad = run_cli("token", "create", "--role", "god", "--name", "x", cwd=tmp_path, env=env)
    assert bad.returncode == 2 and "unknown role 'god'" in bad.stderr
    assert "Traceback" not in bad.stderr
    gone = run_cli("token", "revoke", "rel", cwd=tmp_path, env=env)
    assert gone.returncode == 0 and "revoked" in gone.stdout
    missing = run_cli("token", "revoke", "nope", cwd=tmp_path, env=env)
    assert missing.returncode == 2 and "no token named 'nope'" in missing.stderr


def test_cli_adds_users_with_the_password_from_stdin(tmp_path: Path, store_url: str) -> None:
    env = {"OPSBOOK_DATABASE_URL": store_url}
    added = run_cli(
        "user", "add", "dana", "--role", "operator", cwd=tmp_path, env=env, input="longenough\n"
    )
    assert added.returncode == 0, added.stderr
    listed = json.loads(run_cli("user", "list", "--json", cwd=tmp_path, env=env).stdout)
    assert [(u["name"], u["role"]) for u in listed] == [("dana", "operator")]
    assert "longenough" not in json.dumps(listed)
