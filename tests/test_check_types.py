"""The built-in check types (command, tcp, sql on SQLite and PostgreSQL, env) against real
processes, sockets and databases, and their validation naming file:line."""

from __future__ import annotations

import socket
import sqlite3
import textwrap
from collections.abc import Iterator
from pathlib import Path

import pytest

from check_support import run_named
from opsbook.checks.base import CheckResult
from opsbook.errors import SpecError
from opsbook.spec.loader import validate_text
from opsbook.spec.models import Check


def _run(root: Path, **checks: dict[str, object]) -> dict[str, CheckResult]:
    named = [(name, Check.model_validate(body)) for name, body in checks.items()]
    return {r.check: r for r in run_named(named, root=root)}


def test_command_exit_output_and_number(tmp_path: Path) -> None:
    got = _run(
        tmp_path,
        ok={"command": "echo disk 42% used", "expect": {"number": "< 90", "output": "used"}},
        full={"command": "echo 97%", "expect": {"number": "< 90"}},
        group={"command": "echo 'v=3 of 7'", "expect": {"output": r"of (\d+)", "number": 7}},
        code={"command": "echo boom >&2; exit 7"},
        pattern={"command": "echo nope", "expect": {"output": "^yes$"}},
        wanted={"command": "exit 3", "expect": {"exit": 3}},
        nonumber={"command": "echo none", "expect": {"number": ">= 1"}},
    )
    assert got["ok"].ok and got["ok"].value == 42 and got["ok"].summary == "exit 0"
    assert got["full"].problems == ["number is 97, expected < 90"]
    assert got["group"].ok and got["group"].value == 7
    assert got["code"].problems == ["exit code 7, expected 0: boom"]
    assert got["pattern"].problems == ["output does not match '^yes$'"]
    assert got["wanted"].ok
    assert got["nonumber"].problems == ["no number in the output to compare with '>= 1'"]


def test_a_command_that_overruns_is_killed_with_its_children(tmp_path: Path) -> None:
    marker = tmp_path / "survived"
    got = _run(
        tmp_path,
        slow={"command": f"(sleep 2; touch {marker}) & sleep 5", "timeout": "300ms"},
    )
    assert got["slow"].problems == ["no exit within 0.3s; its process group was killed"]
    assert got["slow"].elapsed < 2
    # The background child was in the killed group: it never gets to touch the file.
    assert not marker.exists()


def test_a_value_in_a_command_is_never_shell_code(tmp_path: Path) -> None:
    from opsbook.checks.runner import run_checks

    hostile = "$(touch pwned); `touch pwned2` ' \" ;touch pwned3"
    check = Check.model_validate(
        {"command": "echo ${{ vars.V }}", "expect": {"output": "touch pwned3"}}
    )
    [result] = run_checks(
        [("echo", check)], root=tmp_path, env={"PATH": "/usr/bin:/bin"}, render=lambda _: hostile
    )
    assert result.ok, result.problems
    assert not list(tmp_path.glob("pwned*"))


@pytest.fixture
def listening() -> Iterator[int]:
    with socket.socket() as server:
        server.bind(("127.0.0.1", 0))
        server.listen()
        yield server.getsockname()[1]


def _closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
    return port


def test_tcp(tmp_path: Path, listening: int) -> None:
    got = _run(
        tmp_path,
        up={"tcp": f"127.0.0.1:{listening}"},
        down={"tcp": f"127.0.0.1:{_closed_port()}"},
    )
    assert got["up"].ok and got["up"].summary == "connected"
    assert got["down"].problems[0].startswith("cannot connect to 127.0.0.1:")


@pytest.fixture
def shop_db(tmp_path: Path) -> Path:
    path = tmp_path / "shop.db"
    with sqlite3.connect(path) as conn:
        conn.execute("create table orders (id integer primary key, state text)")
        conn.executemany("insert into orders (state) values (?)", [("paid",), ("pending",)])
    return path


def test_sql_on_sqlite(tmp_path: Path, shop_db: Path) -> None:
    db = "sqlite:///shop.db"  # relative to the project directory
    got = _run(
        tmp_path,
        count={"sql": "select count(*) from orders", "database": db, "expect": {"number": 2}},
        pending={
            "sql": "select count(*) from orders where state = 'pending'",
            "database": db,
            "expect": {"number": "== 0"},
        },
        rows={"sql": "select * from orders", "database": db, "expect": {"rows": ">= 1"}},
        value={"sql": "select state from orders limit 1", "database": db, "expect": {"value": "x"}},
        broken={"sql": "select * from nowhere", "database": db},
        write={"sql": "delete from orders", "database": db},
        missing={"sql": "select 1", "database": "sqlite:///absent.db"},
    )
    assert got["count"].ok and got["count"].value == 2
    assert got["pending"].problems == ["value is 1, expected == 0"]
    assert got["rows"].ok and got["rows"].summary == "2 rows"
    assert got["value"].problems == ["value is 'paid', expected 'x'"]
    assert "no such table: nowhere" in got["broken"].problems[0]
    assert "readonly" in got["write"].problems[0]
    assert "no file" in got["missing"].problems[0]
    with sqlite3.connect(shop_db) as conn:  # the check changed nothing
        assert conn.execute("select count(*) from orders").fetchone() == (2,)


@pytest.mark.postgres
def test_sql_on_postgresql_is_read_only_and_masks_the_password(
    tmp_path: Path, fresh_pg_url: str
) -> None:
    import psycopg

    with psycopg.connect(fresh_pg_url, autocommit=True) as conn:
        conn.execute("create table orders (id serial primary key, state text)")
        conn.execute("insert into orders (state) values ('paid'), ('pending')")
    host = fresh_pg_url.split("@", 1)[1]
    password = "hunter2secret"  # pragma: allowlist secret
    wrong = f"postgresql://postgres:{password}@{host.replace('5432', str(_closed_port()))}"
    got = _run(
        tmp_path,
        count={
            "sql": "select count(*) from orders",
            "database": fresh_pg_url,
            "expect": {"number": "> 1"},
        },
        write={"sql": "delete from orders", "database": fresh_pg_url},
        down={"sql": "select 1", "database": wrong, "timeout": "2s"},
    )
    assert got["count"].ok and got["count"].value == 2
    assert "read-only transaction" in got["write"].problems[0]
    assert got["down"].problems[0].startswith("cannot connect to the database")
    assert "hunter2secret" not in got["down"].problems[0]
    with psycopg.connect(fresh_pg_url) as conn:
        assert conn.execute("select count(*) from orders").fetchone() == (2,)


BAD = {
    "comparison": (
        "orders: {sql: select 1, database: 'sqlite:///x.db', expect: {number: about 5}}",
        "'about 5' is not a comparison",
    ),
    "unknown key": (
        "orders: {sql: select 1, database: 'sqlite:///x.db', expct: {rows: 1}}",
        "unknown key 'expct'; did you mean 'expect'?",
    ),
    "two types": ("both: {tcp: '127.0.0.1:1', command: 'true'}", "check has two types"),
    "no type": ("none: {description: nothing}", "check has no type; add one of:"),
    "typo type": ("typo: {htp: 'http://127.0.0.1:1'}", "unknown key 'htp'; did you mean 'http'?"),
    "address": ("port: {tcp: localhost}", "'localhost' is not HOST:PORT"),
    "regex": ("out: {command: 'true', expect: {output: '(['}}", "bad pattern '(['"),
    "no database": ("db: {sql: select 1}", "no database to query"),
    "undefined": ("u: {command: 'echo ${{ vars.NOPE }}'}", "vars.NOPE"),
    "not a map": ("flat: http://127.0.0.1:1/", "Input should be a valid dictionary"),
}


@pytest.mark.parametrize("case", BAD, ids=list(BAD))
def test_bad_checks_name_their_line(case: str) -> None:
    body, expected = BAD[case]
    text = "version: 1\nproject: p\nenvironments: {local: {}}\nchecks:\n  " + body + "\n"
    with pytest.raises(SpecError) as info:
        validate_text(text, "opsbook.yaml")
    lines = [str(p) for p in info.value.problems]
    assert any(line.startswith("opsbook.yaml:5:") and expected in line for line in lines), lines


def test_checks_of_every_type_validate_and_bind() -> None:
    text = textwrap.dedent(
        """\
        version: 1
        project: p
        database: {url: "sqlite:///app.db", migrations: migrations}
        checks:
          web: {http: "http://127.0.0.1:1/", expect: {status: [200, 204]}}
          db: {sql: select 1, expect: {rows: 1}}
          port: {tcp: "127.0.0.1:5432", timeout: 2s}
          disk: {command: "df /", expect: {exit: 0}}
          contract: {env: true}
        """
    )
    spec = validate_text(text, "opsbook.yaml").spec
    assert {n: c.type for n, c in spec.checks.items()} == {
        "web": "http",
        "db": "sql",
        "port": "tcp",
        "disk": "command",
        "contract": "env",
    }
    assert spec.checks["port"].timeout == 2.0
    assert spec.checks["web"].config.expect.status == [200, 204]
