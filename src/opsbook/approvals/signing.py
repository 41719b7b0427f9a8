"""Signed approvals with ``ssh-keygen -Y sign`` / ``-Y verify`` (OpenSSH 8.2+).

The signed statement names the project, run, gate, decision and a digest of the note, in the
``opsbook-approval`` namespace, so a signature cannot be replayed on another gate or run, and a
git commit signature cannot pass for an approval.
"""

from __future__ import annotations

import hashlib
import shutil
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path

from opsbook.errors import UsageError

NAMESPACE = "opsbook-approval"


@dataclass(frozen=True)
class Statement:
    project: str
    run_id: str
    step_id: str
    decision: str
    note: str

    def text(self) -> str:
        note = hashlib.sha256(self.note.encode()).hexdigest()
        return (
            f"opsbook approval\nproject {self.project}\nrun {self.run_id}\ngate {self.step_id}\n"
            f"decision {self.decision}\nnote-sha256 {note}\n"
        )


def _ssh_keygen() -> str:
    found = shutil.which("ssh-keygen")
    if found is None:
        raise UsageError(
            "ssh-keygen is not installed; signed approvals need OpenSSH 8.2 or later",
            hint="install openssh-client",
        )
    return found


def sign(statement: Statement, key: Path) -> str:
    """The armored SSH signature of ``statement`` with the private ``key``."""
    if not key.is_file():
        raise UsageError(f"signing key {key} does not exist", hint="give --sign-with PRIVATE_KEY")
    with tempfile.TemporaryDirectory(prefix="opsbook-sign-") as folder:
        message = Path(folder) / "statement"
        message.write_text(statement.text(), encoding="utf-8")
        done = subprocess.run(
            [_ssh_keygen(), "-Y", "sign", "-f", str(key), "-n", NAMESPACE, str(message)],
            capture_output=True,
            text=True,
            stdin=subprocess.DEVNULL,
            timeout=60,
            check=False,
        )
        signature = Path(f"{message}.sig")
        if done.returncode != 0 or not signature.is_file():
            why = done.stderr.strip().splitlines()[-1:] or ["unknown error"]
            raise UsageError(f"ssh-keygen could not sign with {key}: {why[0]}")
        return signature.read_text(encoding="utf-8")


def signer(statement: Statement, signature: str, allowed_signers: Path) -> str | None:
    """The principal of ``allowed_signers`` whose key made ``signature``, or None."""
    if not allowed_signers.is_file():
        raise UsageError(
            f"allowed_signers file {allowed_signers} does not exist",
            hint="create it (PRINCIPAL KEYTYPE KEY per line, as for git's signed commits)",
        )
    with tempfile.TemporaryDirectory(prefix="opsbook-verify-") as folder:
        sig = Path(folder) / "statement.sig"
        sig.write_text(signature, encoding="utf-8")
        found = subprocess.run(
            [_ssh_keygen(), "-Y", "find-principals", "-s", str(sig), "-f", str(allowed_signers)],
            capture_output=True,
            text=True,
            stdin=subprocess.DEVNULL,
            timeout=60,
            check=False,
        )
        for principal in found.stdout.split() if found.returncode == 0 else []:
            verified = subprocess.run(
                [
                    *(_ssh_keygen(), "-Y", "verify", "-f", str(allowed_signers)),
                    *("-I", principal, "-n", NAMESPACE, "-s", str(sig)),
                ],
                input=statement.text(),
                capture_output=True,
                text=True,
                timeout=60,
                check=False,
            )
            if verified.returncode == 0:
                return principal
    return None
