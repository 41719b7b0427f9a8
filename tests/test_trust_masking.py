"""Masking without gaps: a planted secret, printed in every form, is found nowhere afterwards
(store file, temp folders, terminal), and plain configuration stays readable (issue "Trust")."""

from __future__ import annotations

import base64
import json
import os
import re
from pathlib import Path
from urllib.parse import quote

import pytest

from engine_support import cli, project
from opsbook.masking import MASK, SplitGuard

SECRET = 'pa"ss\\wo/rd+ö%9Zq'  # pragma: allowlist secret

PRINTS = r"""
import base64, json, os, re, urllib.parse as u
s = os.environ["API_TOKEN"]
print("plain", s)
print("json", json.dumps(s))
print("json-ascii", json.dumps(s, ensure_ascii=False))
print("upper", u.quote(s, safe=""))
print("lower", re.sub("%[0-9A-F]{2}", lambda m: m.group(0).lower(), u.quote(s, safe="")))
print("base64", base64.b64encode(("x" + s).encode()).decode())
print("split", s[:6])
print(s[6:], "end")
open(os.environ["OPSBOOK_OUTPUT"], "a").write("token=" + s + "\n")
"""

SPEC = """\
version: 1
project: t
environments:
  local: {env_file: .env.local}
env:
  API_TOKEN: {required: true}
runbooks:
  r:
    steps:
      - id: leak
        run: python3 leak.py && echo "port=$PORT year=$YEAR"
      - id: fail
        needs: [leak]
        run: echo "${{ steps.leak.outputs.token }}" >&2; exit 3
"""


def forms(secret: str) -> list[bytes]:
    """The forms the issue names, as bytes to look for in files and output."""
    found = [
        secret,
        json.dumps(secret)[1:-1],
        json.dumps(secret, ensure_ascii=False)[1:-1],
        quote(secret, safe=""),
        re.sub("%[0-9A-F]{2}", lambda m: m.group(0).lower(), quote(secret, safe="")),
        base64.b64encode(("x" + secret).encode()).decode()[4:-4],
        secret[:6] + "\n" + secret[6:],
        secret[:6] + "\\n" + secret[6:],
    ]
    return [f.encode() for f in found]


def grep_tree(root: Path, needles: list[bytes]) -> list[str]:
    hits = []
    for path in root.rglob("*"):
        if path.is_file():
            data = path.read_bytes()
            hits += [f"{path}: {n!r}" for n in needles if n in data]
    return hits


def test_a_planted_secret_is_found_nowhere(tmp_path: Path) -> None:
    root = project(
        tmp_path / "p",
        SPEC,
        env_file=f"API_TOKEN='{SECRET}'\nPORT=8080\nYEAR=2026\n",
    )
    (root / "leak.py").write_text(PRINTS)
    tmp = tmp_path / "tmp"
    tmp.mkdir()
    store = f"sqlite:///{tmp_path / 'state.db'}"
    result = cli(root, store, "run", "r", "--env", "local", "--yes", TMPDIR=str(tmp))
    assert result.returncode == 1, result.stdout + result.stderr
    shown = result.stdout + result.stderr
    assert "port=8080 year=2026" in shown  # configuration is not a secret
    assert shown.count(MASK) >= 8, shown
    needles = forms(SECRET)
    assert [n for n in needles if n in shown.encode()] == []
    files = [tmp_path / name for name in os.listdir(tmp_path) if name.startswith("state.db")]
    assert files
    for path in files:
        data = path.read_bytes()
        assert [n for n in needles if n in data] == [], path
    assert grep_tree(tmp, needles) == []
    assert list(tmp.iterdir()) == []  # the $OPSBOOK_OUTPUT folder went with the run


def test_a_short_secret_is_refused_not_left_unmasked(tmp_path: Path) -> None:
    root = project(tmp_path / "p", SPEC, env_file="API_TOKEN=abc\n")
    result = cli(root, f"sqlite:///{tmp_path / 'state.db'}", "run", "r", "--env", "local")
    assert result.returncode == 2, result.stdout + result.stderr
    assert "API_TOKEN" in result.stderr and "shorter than 6" in result.stderr


@pytest.mark.parametrize("cut", [1, 5, 9, len(SECRET) - 1])
def test_a_secret_split_over_two_lines_is_masked_on_both(cut: int) -> None:
    out: list[str] = []
    guard = SplitGuard(out.append, [SECRET])
    for line in ["before", "token: " + SECRET[:cut], SECRET[cut:] + " after", "done"]:
        guard(line)
    guard.flush()
    assert out == ["before", f"token: {MASK}", f"{MASK} after", "done"]
