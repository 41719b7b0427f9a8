"""Start-up: how long `opsbook --version`, `--help` and `validate` take, beside the interpreter.

`opsbook --version` is compared with `python -c pass` (the same interpreter doing nothing), and
`opsbook validate -f examples/shop/opsbook.yaml` with `python -c 'import pydantic, yaml'` (what
validating a YAML file with pydantic models cannot avoid loading).

    .venv/bin/python bench/startup.py [--rounds 15]
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from timing import best_of

REPO = Path(__file__).resolve().parent.parent


def measure(rounds: int) -> dict[str, float]:
    opsbook = str(Path(sys.executable).parent / "opsbook")
    shop = str(REPO / "examples" / "shop" / "opsbook.yaml")
    return best_of(
        {
            "python -c pass": [sys.executable, "-c", "pass"],
            "python -c 'import pydantic, yaml'": [sys.executable, "-c", "import pydantic, yaml"],
            "opsbook --version": [opsbook, "--version"],
            "opsbook --help": [opsbook, "--help"],
            "opsbook validate": [opsbook, "validate", "-f", shop],
        },
        rounds,
        cwd=REPO,
        env={**os.environ, "NO_COLOR": "1"},
    )


def report(best: dict[str, float]) -> list[str]:
    version = best["opsbook --version"] / best["python -c pass"]
    validate = best["opsbook validate"] / best["python -c 'import pydantic, yaml'"]
    lines = [f"{name + ':':40} {seconds * 1000:7.1f} ms" for name, seconds in best.items()]
    lines.append(f"ratio --version / python -c pass:         {version:.2f}x  (target <= 2x)")
    lines.append(f"ratio validate / import pydantic, yaml:   {validate:.2f}x  (target <= 1.5x)")
    return lines


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=15)
    args = parser.parse_args()
    print(f"best of {args.rounds} rounds, cores: {os.cpu_count()}")
    print("\n".join(report(measure(args.rounds))))


if __name__ == "__main__":
    main()
