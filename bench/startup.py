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

from timing import best_of, byte_compiled

REPO = Path(__file__).resolve().parent.parent
ONE_MODEL = (
    "import yaml\nfrom pydantic import BaseModel\n"
    "class M(BaseModel):\n    x: int = 0\nM.model_validate(yaml.safe_load('x: 1'))"
)
"""The least any pydantic validation of YAML loads: `import pydantic` alone is lazy (it loads no
BaseModel), so this, not the issue's yardstick, is the floor of `opsbook validate`."""


def measure(rounds: int) -> dict[str, float]:
    opsbook = str(Path(sys.executable).parent / "opsbook")
    shop = str(REPO / "examples" / "shop" / "opsbook.yaml")
    return best_of(
        {
            "python -c pass": [sys.executable, "-c", "pass"],
            "python -c 'import pydantic, yaml'": [sys.executable, "-c", "import pydantic, yaml"],
            "python: one pydantic model validated": [sys.executable, "-c", ONE_MODEL],
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
    floor = best["python: one pydantic model validated"] / best["python -c 'import pydantic, yaml'"]
    lines.append(f"ratio one model / import pydantic, yaml:  {floor:.2f}x  (the floor of validate)")
    return lines


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=15)
    args = parser.parse_args()
    byte_compiled()
    print(f"best of {args.rounds} rounds, cores: {os.cpu_count()}")
    print("\n".join(report(measure(args.rounds))))


if __name__ == "__main__":
    main()
