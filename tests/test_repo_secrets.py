"""opsbook's own tree passes `opsbook check secrets`: planted test values are built at runtime or
marked `pragma: allowlist secret`, so a real-looking key never lands in git by accident."""

from __future__ import annotations

from conftest import REPO, run_cli


def test_the_repository_has_no_committed_secrets() -> None:
    result = run_cli("check", "secrets", "-f", "examples/shop/opsbook.yaml", ".", cwd=REPO)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "0 errors" in result.stdout
