"""Runtime errors end cleanly and hostile files cost nothing (issue "Trust", attack 7): an alias
bomb, a huge power, deeply nested JSON, a broken ``if:`` and bad ids each give one clear line and
a documented exit code, and a run that fails this way releases its environment."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from conftest import FIXTURES, run_cli
from engine_support import cli, only_run, project, step_status
from opsbook.errors import ExpressionError
from opsbook.spec import expressions as ex

HEAD = """\
version: 1
project: t
environments:
  local: {env_file: .env.local}
env:
  API_TOKEN: {required: true}
runbooks:
"""


def validate(root: Path) -> tuple[int, str]:
    done = run_cli("validate", cwd=root, timeout=60)
    return done.returncode, done.stdout + done.stderr


def test_an_alias_bomb_is_refused(tmp_path: Path) -> None:
    # Kept as .txt so tools that read every YAML file of the repository (detect-secrets in
    # `opsbook check secrets`, the fast-YAML agreement test) never expand it.
    shutil.copy(FIXTURES / "attacks" / "alias-bomb.yaml.txt", tmp_path / "opsbook.yaml")
    code, out = validate(tmp_path)
    assert code == 2, out
    assert "opsbook.yaml:1: YAML too large: its aliases expand to more than" in out
    assert "Traceback" not in out


@pytest.mark.parametrize(
    "condition,words",
    [
        ("${{ 4000000**4000000 > 1 }}", "powers are limited to 4096 bits"),
        ("${{ (((((((((((((((((((((((((((((((((((((((1" + ")" * 39 + " }}", None),
    ],
)
def test_a_huge_power_is_refused_by_validate(
    tmp_path: Path, condition: str, words: str | None
) -> None:
    body = f"  r:\n    steps:\n      - id: a\n        if: {condition}\n        run: 'true'\n"
    root = project(tmp_path, HEAD + body, "API_TOKEN=tok-123456\n")
    code, out = validate(root)
    if words is None:  # deep but harmless nesting is fine
        assert code == 0, out
        return
    assert code == 2, out
    assert words in out and "opsbook.yaml:" in out


@pytest.mark.parametrize(
    "step_id",
    ["x" * 10_000, "deploy\n", "-leading", "has space", "a" * 65, "_under"],
)
def test_ids_follow_one_rule(tmp_path: Path, step_id: str) -> None:
    body = "  r:\n    steps:\n      - id: " + _yaml_string(step_id) + "\n        run: 'true'\n"
    root = project(tmp_path, HEAD + body, "API_TOKEN=tok-123456\n")
    code, out = validate(root)
    assert code == 2, out
    assert "is not valid: ids start with a letter or digit" in out
    assert len(out) < 2000  # the 10,000-character id is shortened, not echoed


def _yaml_string(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n") + '"'


def test_a_runtime_if_error_fails_the_step_and_releases_the_environment(
    tmp_path: Path, store_url: str
) -> None:
    body = """\
  r:
    steps:
      - id: first
        run: echo "json=$(python3 -c 'print("[" * 100000)')" >> "$OPSBOOK_OUTPUT"
      - id: second
        needs: [first]
        if: ${{ fromJSON(steps.first.outputs.json) }}
        run: touch ran
      - id: third
        needs: [first]
        if: ${{ int(env.API_TOKEN) > 1 }}
        run: touch ran
"""
    root = project(tmp_path, HEAD + body, "API_TOKEN=tok-s3cr3t-value\n")
    done = cli(root, store_url, "run", "r", "--env", "local", "--yes")
    out = done.stdout + done.stderr
    assert done.returncode == 1, out
    assert "nested deeper than 64 levels" in out
    assert "Traceback" not in out and "tok-s3cr3t-value" not in out
    run = only_run(store_url)
    assert run.status in ("failed", "rolled_back") and run.lock_key is None
    assert step_status(store_url, run.id)["first"] == "succeeded"
    assert not (root / "ran").exists()
    again = cli(root, store_url, "run", "r", "--env", "local", "--yes")
    assert again.returncode == 1, again.stdout + again.stderr  # not locked (4)


def test_expression_errors_never_show_values() -> None:
    with pytest.raises(ExpressionError) as caught:
        ex.evaluate("int(env.X)", {"env": {"X": "s3cret-v4lue"}})
    assert "s3cret-v4lue" not in str(caught.value)
    with pytest.raises(ExpressionError, match="powers are limited"):
        ex.evaluate("params.n ** 99999999", {"params": {"n": 10}})


FLAGS = "version: 1\nproject: t\nflags:\n  checkout: {default: false, rollout: {percent: 100}}\n"


@pytest.mark.parametrize(
    ("args", "number", "byte", "at"),
    [
        (["flag", "kill", "checkout", "-m", "db \udcff down"], 5, "0xff", 4),
        (["flag", "kill", "checkout", "-m", "caf\udcc3"], 5, "0xc3", 4),
        (["validate", "-f", "\udcffopsbook.yaml"], 3, "0xff", 1),
    ],
    ids=["reason", "cut-short", "file"],
)
def test_an_argument_that_is_not_utf8_is_refused_before_anything_runs(
    tmp_path: Path, args: list[str], number: int, byte: str, at: int
) -> None:
    """Python decodes such an argument with surrogateescape; stored, it was a traceback from
    the database driver after the command had started. It is not repeated: it may be a secret."""
    (tmp_path / "opsbook.yaml").write_text(FLAGS)
    done = run_cli(*args, cwd=tmp_path, in_process=False)  # a real argv, from real bytes
    out = done.stdout + done.stderr
    assert done.returncode == 2, out
    assert f"argument {number} is not UTF-8 text (byte {byte} at character {at})" in out
    assert "Traceback" not in out and "down" not in out and "caf" not in out
    history = run_cli("flag", "history", "checkout", cwd=tmp_path)
    assert "no changes recorded" in history.stdout + history.stderr


ENV_SPEC = HEAD + "  r:\n    steps:\n      - {id: a, run: echo ran > ran.txt}\n"


@pytest.mark.parametrize(
    ("file", "content", "message"),
    [
        (
            ".env.local",
            b"API_TOKEN=ab\xffcdefgh\n",
            ".env.local:1: not UTF-8 text (byte 0xff at column 13)",
        ),
        (
            ".env.local",
            b"API_TOKEN=abcdefgh\nX=1\x002\n",  # pragma: allowlist secret
            ".env.local:2: holds a NUL byte",
        ),
        (
            "opsbook.yaml",
            b"# caf\xe9 (Latin-1)\n",
            "opsbook.yaml:1: not UTF-8 text (byte 0xe9 at column 6)",
        ),
    ],
    ids=["env-latin1", "env-nul", "spec-latin1"],
)
def test_a_file_that_is_not_utf8_text_is_an_error_at_its_line(
    tmp_path: Path, file: str, content: bytes, message: str
) -> None:
    """It was a UnicodeDecodeError traceback from the dotenv parser (exit 1), or 'cannot
    read' at line 1 whatever the line."""
    (tmp_path / "opsbook.yaml").write_text(ENV_SPEC)
    (tmp_path / ".env.local").write_bytes(b"API_TOKEN=abcdefgh\n")
    target = tmp_path / file
    target.write_bytes(content + target.read_bytes() if file == "opsbook.yaml" else content)
    for args in (["check", "env", "-e", "local"], ["run", "r", "-e", "local"]):
        done = run_cli(*args, cwd=tmp_path)
        out = done.stdout + done.stderr
        assert done.returncode == 2, out
        assert message in out and "Traceback" not in out
    assert not (tmp_path / "ran.txt").exists()
