"""The example shop released by the real engine: version 2 goes live and answers; a release of
version 3 that fails verification after deploy is rolled back to version 2 (deploy's rollback),
and migrate, being irreversible, stays done and is reported as such."""

from __future__ import annotations

import json
import shutil
import socket
import subprocess
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from engine_support import cli

EXAMPLE = Path(__file__).resolve().parent.parent / "examples" / "shop"


@pytest.fixture
def shop(tmp_path: Path) -> Iterator[Path]:
    """A copy of the example on a free port; its server is stopped afterwards."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    copy = tmp_path / "shop"
    shutil.copytree(
        EXAMPLE,
        copy,
        ignore=shutil.ignore_patterns(".state", ".env.local", "__pycache__", ".opsbook"),
    )
    spec = copy / "opsbook.yaml"
    fast = (
        spec.read_text()
        .replace("8081", str(port))
        .replace("retry: {attempts: 5, delay: 1s}", "retry: {attempts: 2, delay: 100ms}")
        .replace("wait: 2s", "wait: 100ms")
    )
    spec.write_text(fast)  # same runbook, shorter retries and soak
    subprocess.run([str(copy / "scripts" / "make-env.sh")], check=True, capture_output=True)
    yield copy
    subprocess.run([str(copy / "scripts" / "stop.sh")], capture_output=True)


def version(shop: Path) -> str:
    port = next(
        line.split(":")[-1].strip()
        for line in (shop / "opsbook.yaml").read_text().splitlines()
        if "SHOP_PORT:" in line and line.split(":")[-1].strip().isdigit()
    )
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/version", timeout=5) as reply:
        return str(json.load(reply)["version"])


@pytest.mark.slow
@pytest.mark.timeout(90)  # two releases of the shop with its server: ~13 s alone, 19 s in the suite
def test_release_then_a_failed_release_rolls_back_to_the_previous_version(
    shop: Path, tmp_path: Path
) -> None:
    url = f"sqlite:///{tmp_path / 'state.db'}"
    first = cli(shop, url, "run", "release", "--env", "local", "-p", "version=2", "--yes")
    assert first.returncode == 0, first.stdout + first.stderr
    assert version(shop) == "2"
    broken = cli(
        shop,
        url,
        "run",
        "release",
        "--env",
        "local",
        "-p",
        "version=3",
        "--yes",
        SHOP_SIMULATE="payments=unavailable",
    )
    assert broken.returncode == 1, broken.stdout + broken.stderr
    assert "↶ deploy rolled back" in broken.stdout
    assert "NOT rolled back past irreversible step migrate" in broken.stderr
    assert version(shop) == "2"
