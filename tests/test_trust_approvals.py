"""Approvals with identities (issue "Trust", attack 3): on an environment with ``approvers:`` an
answer is SSH-signed by a key in allowed_signers, the approver is the key's principal whatever
OPSBOOK_OPERATOR says, the run's own operator is refused, and resume re-checks the signature.
Throwaway keys are generated in tmp with ssh-keygen (openssh-client)."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest
from sqlalchemy import update

from engine_support import cli, project
from opsbook.store import open_store, schema

pytestmark = pytest.mark.store

SPEC = """\
version: 1
project: signed
environments:
  local: {}
  production:
    protected: true
    approvers: {allowed_signers: signers, distinct: true}
runbooks:
  release:
    steps:
      - {id: build, run: echo built}
      - {id: ok, gate: Ship it?, needs: [build]}
      - {id: deploy, needs: [ok], run: echo deployed > deployed.txt}
"""


def _key(folder: Path, name: str) -> Path:
    key = folder / name
    subprocess.run(
        ["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", name, "-f", str(key)],
        check=True,
        timeout=30,
    )
    return key


@pytest.fixture
def keys(tmp_path: Path) -> dict[str, Path]:
    """Keys of alice and bob (listed in allowed_signers) and mallory (not listed)."""
    folder = tmp_path / "keys"
    folder.mkdir()
    return {name: _key(folder, name) for name in ("alice", "bob", "mallory")}


def _signed_project(tmp_path: Path, keys: dict[str, Path]) -> Path:
    root = project(tmp_path / "p", SPEC)
    lines = []
    for name in ("alice", "bob"):
        kind, blob, _ = (keys[name].with_suffix(".pub")).read_text().split()
        lines.append(f"{name}@example.com {kind} {blob}")
    (root / "signers").write_text("\n".join(lines) + "\n")
    return root


def _run_id(root: Path, store_url: str) -> str:
    return str(json.loads(cli(root, store_url, "runs", "--json").stdout)[0]["id"])


def test_signed_distinct_approvals(tmp_path: Path, store_url: str, keys: dict[str, Path]) -> None:
    root = _signed_project(tmp_path, keys)
    alice = {"OPSBOOK_OPERATOR": "alice@example.com"}
    started = cli(root, store_url, "run", "release", "--env", "production", "--yes", **alice)
    assert started.returncode == 3, started.stdout + started.stderr  # --yes never answers here
    run_id = _run_id(root, store_url)

    def approve(*args: str, who: str = "alice@example.com") -> subprocess.CompletedProcess[str]:
        return cli(root, store_url, "approve", run_id, "ok", *args, OPSBOOK_OPERATOR=who)

    unsigned = approve(who="bob@example.com")
    assert unsigned.returncode == 2 and "takes signed answers only" in unsigned.stderr
    own = approve("--sign-with", str(keys["alice"]))
    assert own.returncode == 2 and "requires a different approver" in own.stderr, own.stderr
    stranger = approve("--sign-with", str(keys["mallory"]), who="bob@example.com")
    assert stranger.returncode == 2 and "not by a key listed in signers" in stranger.stderr
    # bob's key signs while the environment claims alice: the key decides who approved
    signed = approve("--sign-with", str(keys["bob"]), "--note", "looked at the canary")
    assert signed.returncode == 0, signed.stdout + signed.stderr
    assert "Traceback" not in signed.stderr

    assert cli(root, store_url, "verify-log").returncode == 0
    resumed = cli(root, store_url, "resume", run_id)
    assert resumed.returncode == 0, resumed.stdout + resumed.stderr
    assert (root / "deployed.txt").exists()
    log = json.loads(cli(root, store_url, "releases", "--json").stdout)
    assert [(a["operator"], a["via"]) for a in log[0]["approvals"]] == [("bob@example.com", "ssh")]
    # verify-log checks the signature itself: with bob's key gone from allowed_signers it fails
    signers = (root / "signers").read_text().splitlines()
    (root / "signers").write_text(signers[0] + "\n")
    revoked = cli(root, store_url, "verify-log")
    assert revoked.returncode == 1, revoked.stdout + revoked.stderr
    assert "has no valid signature of a key in signers" in revoked.stderr


def test_a_recorded_answer_without_a_valid_signature_is_refused_by_resume(
    tmp_path: Path, store_url: str, keys: dict[str, Path]
) -> None:
    root = _signed_project(tmp_path, keys)
    cli(
        root,
        store_url,
        "run",
        "release",
        "--env",
        "production",
        OPSBOOK_OPERATOR="alice@example.com",
    )
    run_id = _run_id(root, store_url)
    signed = cli(
        root,
        store_url,
        "approve",
        run_id,
        "ok",
        "--sign-with",
        str(keys["bob"]),
        OPSBOOK_OPERATOR="bob@example.com",
    )
    assert signed.returncode == 0, signed.stderr
    store = open_store(store_url)
    try:  # a store writer replaces the signature (and the event, so only the signature differs)
        with store.begin() as conn:
            conn.execute(update(schema.approvals).values(signature="forged"))
    finally:
        store.close()
    resumed = cli(root, store_url, "resume", run_id)
    assert resumed.returncode == 3, resumed.stdout + resumed.stderr
    assert not (root / "deployed.txt").exists()
    assert cli(root, store_url, "verify-log").returncode == 1


TWO_GATES = """\
version: 1
project: gates
environments:
  local: {}
runbooks:
  release:
    steps:
      - {id: first, gate: Ready?}
      - {id: second, gate: Really?, needs: [first]}
      - {id: deploy, needs: [second], run: echo deployed}
"""


def test_a_gate_is_answered_only_once_it_waits_and_yes_is_marked(
    tmp_path: Path, store_url: str
) -> None:
    root = project(tmp_path / "p", TWO_GATES)
    paused = cli(root, store_url, "run", "release", "--env", "local")
    assert paused.returncode == 3, paused.stdout + paused.stderr
    run_id = _run_id(root, store_url)
    early = cli(root, store_url, "approve", run_id, "second")
    assert early.returncode == 2, early.stdout + early.stderr
    assert "second is pending, not waiting for an answer" in early.stderr

    other = project(tmp_path / "q", TWO_GATES)
    done = cli(other, store_url, "run", "release", "--env", "local", "--yes")
    assert done.returncode == 4, done.stdout + done.stderr  # the first run holds "local"
    aborted = cli(root, store_url, "abort", run_id)
    assert aborted.returncode in (0, 1), aborted.stdout + aborted.stderr
    done = cli(other, store_url, "run", "release", "--env", "local", "--yes")
    assert done.returncode == 0, done.stdout + done.stderr
    text = cli(other, store_url, "releases").stdout
    assert "first: auto-approved (--yes) by tester" in text, text
    shown = cli(other, store_url, "show", "last").stdout
    assert "auto-approved (--yes)" in shown, shown
