"""Benchmark (a): a 1,000-step sequential runbook of `true` against bash running the same commands.

opsbook runs each step as `/bin/sh -c true` in its own process group and checkpoints every step
(two store transactions, each appending a hash-chained event). The fair bash script therefore runs
`sh -c true` 1,000 times; the builtin loop (`true` without a process) is printed for reference.

    .venv/bin/python bench/run_1000.py [--steps 1000] [--store URL]
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
from pathlib import Path

from timing import byte_compiled, timed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=1000)
    parser.add_argument("--store", default=None, help="store URL (default: SQLite in a temp dir)")
    args = parser.parse_args()
    byte_compiled()
    n = args.steps
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        steps = "".join(f"      - {{id: s{i}, run: 'true'}}\n" for i in range(n))
        (root / "opsbook.yaml").write_text(
            "version: 1\nproject: bench\nenvironments: {local: {}}\n"
            f"runbooks:\n  seq:\n    steps:\n{steps}"
        )
        (root / "seq.sh").write_text(f"for i in $(seq {n}); do sh -c true; done\n")
        (root / "builtin.sh").write_text(f"for i in $(seq {n}); do true; done\n")
        env = {**os.environ, "NO_COLOR": "1"}
        if args.store:
            env["OPSBOOK_DATABASE_URL"] = args.store
        opsbook = [sys.executable, "-m", "opsbook", "run", "seq", "--env", "local"]
        timed(["bash", "seq.sh"], root)  # warm the page cache
        bash = min(timed(["bash", "seq.sh"], root) for _ in range(3))
        builtin = min(timed(["bash", "builtin.sh"], root) for _ in range(3))
        runs = []
        for _ in range(3):
            runs.append(timed(opsbook, root, env))
        ours = min(runs)
        startup = min(timed([sys.executable, "-m", "opsbook", "--help"], root) for _ in range(3))
    print(f"steps: {n}  cores: {os.cpu_count()}  store: {args.store or 'sqlite (embedded)'}")
    print(f"bash, sh -c true x{n}:        {bash:7.3f} s  ({bash / n * 1000:.2f} ms/step)")
    print(f"bash, builtin true x{n}:      {builtin:7.3f} s")
    print(f"opsbook run (checkpointed):  {ours:7.3f} s  ({ours / n * 1000:.2f} ms/step)")
    print(f"  of which CLI start-up:     {startup:7.3f} s")
    print(f"ratio opsbook / bash sh -c:  {ours / bash:.2f}x  (target <= 2.0x)")


if __name__ == "__main__":
    main()
