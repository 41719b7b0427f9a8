"""opsbook's own tree passes `opsbook check secrets`: planted test values are built at runtime or
marked `pragma: allowlist secret`, so a real-looking key never lands in git by accident.

The tree is scanned in three parts (src/, tests/, everything else), one test each, so the
parts run side by side: detect-secrets takes about 0.4 ms per line, 20 s for the whole tree on
one core.
"""

from __future__ import annotations

import subprocess

import pytest

from conftest import REPO, run_cli

OWN_PARTS = ("src", "tests")


def top_level_entries() -> list[str]:
    """The files and folders at the top of the repository that git tracks or would commit."""
    listed = subprocess.run(
        ["git", "-C", str(REPO), "ls-files", "--cached", "--others", "--exclude-standard"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.split()
    return sorted({name.split("/", 1)[0] for name in listed if (REPO / name).exists()})


@pytest.mark.timeout(120)  # src/ alone is ~10 s on an idle core, 23 s in the suite on 2 cores
@pytest.mark.parametrize("part", [*OWN_PARTS, "the rest"])
def test_the_repository_has_no_committed_secrets(part: str) -> None:
    paths = [part] if part in OWN_PARTS else [e for e in top_level_entries() if e not in OWN_PARTS]
    assert paths, "nothing to scan"
    for path in paths:
        result = run_cli("check", "secrets", "-f", "examples/shop/opsbook.yaml", path, cwd=REPO)
        assert result.returncode == 0, result.stdout + result.stderr
        assert "0 errors" in result.stdout, result.stdout
