"""Every benchmark in one run, for docs/performance.md: start-up, 1,000 checkpointed steps and
200 HTTP checks, OFREP evaluations and alert latency, each beside what a user would run
instead, as ratios.

    .venv/bin/python bench/report.py
"""

from __future__ import annotations

import os
import platform
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
BENCHES = ("startup.py", "run_1000.py", "http_200.py", "ofrep.py", "alert_latency.py")


def main() -> None:
    load = os.getloadavg()[0]
    print(
        f"{time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}, Python {platform.python_version()},"
    )
    print(f"{os.cpu_count()} cores, load average {load:.1f} at the start")
    for bench in BENCHES:
        print(f"\n--- {bench}")
        sys.stdout.flush()
        subprocess.run([sys.executable, str(HERE / bench)], check=True, cwd=HERE.parent)


if __name__ == "__main__":
    main()
