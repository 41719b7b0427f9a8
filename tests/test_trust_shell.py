"""Values never become shell syntax: every payload in every quoting position reaches its command
byte for byte and runs nothing (issue "Trust", attack 1)."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest

from conftest import FIXTURES
from engine_support import FAST, cli, only_run, project
from opsbook import shellsafe

PAYLOADS: list[str] = json.loads((FIXTURES / "attacks" / "shell.json").read_text())["payloads"]

# (name, command writing the value to ./out, the bytes the value becomes there)
POSITIONS = [
    ("double", """printf '%s' "${{ params.p }}" > out""", lambda v: v),
    ("double-prefix", """printf '%s' "value=${{ params.p }}" > out""", lambda v: "value=" + v),
    ("single", """printf '%s' '${{ params.p }}' > out""", lambda v: v),
    ("single-prefix", """printf '%s' 'a ${{ params.p }} b' > out""", lambda v: f"a {v} b"),
    ("unquoted", """printf '%s' ${{ params.p }} > out""", lambda v: v),
    ("assignment", """V=${{ params.p }}; printf '%s' "$V" > out""", lambda v: v),
    (
        "subst",
        """printf '%s' "$(printf '%s' ${{ params.p }})" > out""",
        lambda v: v.rstrip("\n"),
    ),
    (
        "backticks",
        """printf '%s' "`printf '%s' ${{ params.p }}`" > out""",
        lambda v: v.rstrip("\n"),
    ),
    ("default", """printf '%s' "${UNSET_X:-${{ params.p }}}" > out""", lambda v: v),
    ("heredoc", "cat > out <<EOF\n${{ params.p }}\nEOF", lambda v: v + "\n"),
    ("heredoc-quoted", "cat > out <<'EOF'\n${{ params.p }}\nEOF", lambda v: v + "\n"),
    ("comment", "printf '%s' ok > out # ${{ params.p }}", lambda v: "ok"),
]


def _ends_heredoc(value: str) -> bool:
    return any(line == "EOF" for line in value.splitlines())


@pytest.mark.parametrize("name,command,expected", POSITIONS, ids=[p[0] for p in POSITIONS])
def test_each_payload_reaches_the_command_byte_for_byte(
    tmp_path: Path, name: str, command: str, expected: object
) -> None:
    for n, payload in enumerate(PAYLOADS):
        work = tmp_path / str(n)
        work.mkdir()
        try:
            bound = shellsafe.bind(command, lambda expr, v=payload: v)
        except shellsafe.ShellValueError as err:
            assert name == "heredoc-quoted" and _ends_heredoc(payload), err
            continue
        subprocess.run(
            ["/bin/sh", "-c", bound.command], cwd=work, env=bound.env, timeout=10, check=True
        )
        assert not (work / "pwned").exists(), (name, payload)
        got = (work / "out").read_bytes().decode()
        assert got == expected(payload), (name, payload, bound.command)  # type: ignore[operator]


def test_contexts_are_read_as_sh_reads_them() -> None:
    command = (
        """echo ${{ a }} "${{ b }}" '${{ c }}' $(echo ${{ d }}) "$(echo "${{ e }}")"\n"""
        "echo $(( ${{ f }} + 1 )) # ${{ g }}\n"
        "cat <<-'X' <<Y\n\t${{ h }}\n\tX\n${{ i }}\nY\n"
        """echo ${X:-${{ j }}} "${X:-${{ k }}}" \\'${{ l }}'\n"""
    )
    found = [ctx for _, _, _, ctx in shellsafe.contexts(command)]
    assert found == [
        "plain",
        "double",
        "single",
        "plain",
        "double",
        "arith",
        "comment",
        "heredoc_quoted",
        "heredoc",
        "plain",
        "double",
        "plain",
    ]


def test_arithmetic_takes_integers_only() -> None:
    assert shellsafe.bind("echo $(( ${{ n }} + 1 ))", lambda e: "41").env == {
        "OPSBOOK_VALUE_1": "41"
    }
    with pytest.raises(shellsafe.ShellValueError, match="not an integer"):
        shellsafe.bind("echo $(( ${{ n }} + 1 ))", lambda e: "a[$(touch pwned)]")


def test_the_documented_attack_through_the_cli(tmp_path: Path, store_url: str) -> None:
    """Params, step outputs, env values and rollback commands, through `opsbook run`."""
    root = project(
        tmp_path / "p",
        """\
        version: 1
        project: t
        environments:
          local: {env_file: .env.local}
        env:
          FROM_FILE: {required: true}
        runbooks:
          r:
            params: {key: {required: true}}
            steps:
              - id: echo
                run: echo "value=${{ params.key }}" > echoed
                rollback: printf '%s' '${{ params.key }}' > rolled
              - id: emit
                needs: [echo]
                run: printf 'msg=%s\\n' "$KEY" >> "$OPSBOOK_OUTPUT"
                env: {KEY: "${{ params.key }}"}
              - id: use
                needs: [emit]
                run: >-
                  printf '%s' ${{ steps.emit.outputs.msg }} > output;
                  printf '%s' "${{ env.FROM_FILE }}" > fromfile; exit 1
        """,
        env_file="FROM_FILE='$(touch pwned)'\n",
    )
    payload = 'x"; touch pwned; echo "'
    result = cli(root, store_url, "run", "r", "--env", "local", "--yes", "-p", f"key={payload}")
    assert result.returncode == 1, result.stdout + result.stderr
    assert not (root / "pwned").exists()
    assert (root / "echoed").read_text() == f"value={payload}\n"
    assert (root / "output").read_text() == payload
    assert (root / "fromfile").read_text() == "$(touch pwned)"
    assert (root / "rolled").read_text() == payload
    assert only_run(store_url).status == "rolled_back"
    assert FAST  # the fast lease settings are in effect
