"""Flag state in the store: every change is recorded with operator, reason, before and after, in
the hash chain and in the flag's history; the CLI is the kill switch (real subprocesses)."""

from __future__ import annotations

import itertools
import json
import threading
from collections.abc import Callable
from pathlib import Path

import pytest
from tests.conftest import run_cli

from opsbook.errors import FlagNotFound, UsageError
from opsbook.flags.models import Flag
from opsbook.flags.service import change_flag, evaluate_flag, history, list_flags
from opsbook.store import Store
from opsbook.store import events as chain

FLAGS = {
    "new-checkout": Flag.model_validate(
        {"default": False, "rollout": {"percent": 10, "stickiness": "userId"}}
    ),
    "btn": Flag.model_validate(
        {"type": "string", "default": "blue", "variants": {"green": {"value": "green"}}}
    ),
}

SPEC = """\
version: 1
project: shop
flags:
  new-checkout:
    default: false
    rollout: {percent: 10, stickiness: userId}
"""


@pytest.mark.store
def test_changes_are_recorded_in_the_chain_and_history(
    store_url: str, stores: Callable[[str], Store]
) -> None:
    store = stores(store_url)
    first = change_flag(
        store, "shop", FLAGS, "new-checkout", operator="ana", reason="25", percent=25
    )
    assert first.before == {"enabled": True, "percent": 10, "overrides": {}}
    assert first.after["percent"] == 25
    change_flag(store, "shop", FLAGS, "new-checkout", operator="bo", reason="bad", enabled=False)
    rows = history(store, "shop", FLAGS, "new-checkout")
    assert [(c.actor, c.reason, c.after["enabled"]) for c in rows] == [
        ("bo", "bad", False),
        ("ana", "25", True),
    ]
    with store.begin() as conn:
        report = chain.verify(conn)
        events = [
            e for e in conn.execute(chain.select(chain.schema.events)) if e.type == "flag_changed"
        ]
    assert report.ok and len(events) == 2
    assert json.loads(events[-1].data)["after"]["enabled"] is False
    views = {v.key: v for v in list_flags(store, "shop", FLAGS)}
    assert views["new-checkout"].changed and not views["btn"].changed
    assert views["new-checkout"].state.percent == 25


@pytest.mark.store
def test_kill_is_effective_at_the_next_evaluation(
    store_url: str, stores: Callable[[str], Store]
) -> None:
    store = stores(store_url)
    change_flag(store, "shop", FLAGS, "new-checkout", operator="ana", percent=100)
    assert evaluate_flag(store, "shop", FLAGS, "new-checkout", {"userId": "u1"}).value is True
    change_flag(store, "shop", FLAGS, "new-checkout", operator="ana", enabled=False)
    answer = evaluate_flag(store, "shop", FLAGS, "new-checkout", {"userId": "u1"})
    assert (answer.value, answer.reason) == (False, "DISABLED")


@pytest.mark.store
def test_concurrent_changes_each_see_the_one_before(
    store_url: str, stores: Callable[[str], Store]
) -> None:
    store = stores(store_url)
    errors: list[BaseException] = []

    def bump(n: int) -> None:
        try:
            change_flag(store, "shop", FLAGS, "new-checkout", operator=f"op{n}", percent=n)
        except BaseException as err:  # reported below
            errors.append(err)

    threads = [threading.Thread(target=bump, args=(n,)) for n in range(1, 9)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    assert not errors
    changes = list(reversed(history(store, "shop", FLAGS, "new-checkout")))
    assert len(changes) == 8
    for earlier, later in itertools.pairwise(changes):
        assert later.before == earlier.after


def test_hostile_keys_and_values(store_url: str, stores: Callable[[str], Store]) -> None:
    store = stores(store_url)
    with pytest.raises(FlagNotFound, match="did you mean 'new-checkout'"):
        change_flag(store, "shop", FLAGS, "new-chekout", operator="a", enabled=True)
    with pytest.raises(FlagNotFound) as info:
        change_flag(store, "shop", FLAGS, "x\x1b[31m" * 100, operator="a", enabled=True)
    assert "\x1b" not in str(info.value) and len(str(info.value)) < 600
    with pytest.raises(UsageError, match="0 to 100"):
        change_flag(store, "shop", FLAGS, "new-checkout", operator="a", percent=-1)
    with pytest.raises(UsageError, match="keep it to 500"):
        change_flag(store, "shop", FLAGS, "new-checkout", operator="a", reason="x" * 501, percent=1)


def test_cli_set_kill_history(tmp_path: Path) -> None:
    (tmp_path / "opsbook.yaml").write_text(SPEC)
    env = {"OPSBOOK_OPERATOR": "ana"}
    done = run_cli(
        "flag", "set", "new-checkout", "--percent", "50", "-m", "step 3", cwd=tmp_path, env=env
    )
    assert done.returncode == 0, done.stderr
    assert "on 10% → on 50%" in done.stdout
    killed = run_cli("flag", "kill", "new-checkout", "--json", cwd=tmp_path, env=env)
    assert killed.returncode == 0, killed.stderr
    assert json.loads(killed.stdout)["after"]["enabled"] is False
    shown = json.loads(run_cli("flag", "show", "new-checkout", "--json", cwd=tmp_path).stdout)
    assert (shown["enabled"], shown["percent"], shown["updated_by"]) == (False, 50, "ana")
    log = json.loads(run_cli("flag", "history", "new-checkout", "--json", cwd=tmp_path).stdout)
    assert [c["reason"] for c in log] == ["kill switch", "step 3"]
    listed = run_cli("flag", "list", cwd=tmp_path)
    assert "new-checkout" in listed.stdout and "off" in listed.stdout


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("flag", "set", "new-checkout"), "give --on, --off or --percent N"),
        (("flag", "set", "new-checkout", "--percent", "101"), "0 to 100"),
        (("flag", "kill", "nope"), "no flag 'nope'"),
        (("flag", "history", "nope"), "no flag 'nope'"),
        (("flag", "set", "new-checkout", "--percent", "ten"), "--percent"),
    ],
)
def test_cli_hostile_input_is_one_line_and_exit_2(
    tmp_path: Path, args: tuple[str, ...], message: str
) -> None:
    (tmp_path / "opsbook.yaml").write_text(SPEC)
    done = run_cli(*args, cwd=tmp_path)
    assert done.returncode == 2
    assert message in done.stderr and "Traceback" not in done.stderr
