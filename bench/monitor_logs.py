"""Benchmark (d): error rate and p95 latency per 5-minute window over a whole file of 1M JSON
log lines (~230 MB), three ways:

- opsbook: ``opsbook monitor replay --every 5m`` with two log metrics and an alert on each;
- DuckDB's own SQL on the same file (``read_json_auto`` + ``time_bucket``), what a user who
  knows DuckDB would write;
- jq projecting the three fields only (``jq -c '[.ts, .level, .duration_ms]'``), which is
  less than the work of the other two.

Each is a whole command (start-up included); the best of --rounds, interleaved.

    .venv/bin/python bench/monitor_logs.py [--lines 1000000] [--rounds 2]
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
from pathlib import Path

from timing import best_of

REPO = Path(__file__).resolve().parent.parent
SPEC = """\
version: 1
project: bench
sources:
  app: {logs: "app.jsonl"}
metrics:
  error_rate: {from: app, over: 5m, where: "event = 'request'",
               value: "avg(CASE WHEN level = 'error' THEN 1 ELSE 0 END)"}
  p95_ms: {from: app, over: 5m, where: "event = 'request'",
           value: "quantile_cont(duration_ms, 0.95)"}
alerts:
  high_error_rate: {when: error_rate > 5%}
  slow: {when: p95_ms > 3000}
"""
DUCKDB_SQL = """
import duckdb
duckdb.sql('''
  SELECT time_bucket(INTERVAL '5 minutes', ts) AS bucket,
         avg(CASE WHEN level = 'error' THEN 1 ELSE 0 END) AS error_rate,
         quantile_cont(duration_ms, 0.95) AS p95
  FROM read_json_auto('app.jsonl') WHERE event = 'request'
  GROUP BY bucket ORDER BY bucket
''').fetchall()
"""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--lines", type=int, default=1_000_000)
    parser.add_argument("--rounds", type=int, default=2)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        here = Path(tmp)
        subprocess.run(
            [
                sys.executable,
                str(REPO / "tests" / "loggen.py"),
                str(here / "app.jsonl"),
                "--lines",
                str(args.lines),
            ],
            check=True,
            stdout=subprocess.DEVNULL,
        )
        size = (here / "app.jsonl").stat().st_size
        lines = sum(1 for _ in (here / "app.jsonl").open("rb"))
        (here / "opsbook.yaml").write_text(SPEC)
        first = subprocess.run(
            ["head", "-1", str(here / "app.jsonl")], capture_output=True, text=True, check=True
        ).stdout
        start = first.split('"ts":"')[1][:16] + ":00Z"
        last = subprocess.run(
            ["tail", "-1", str(here / "app.jsonl")], capture_output=True, text=True, check=True
        ).stdout
        end = last.split('"ts":"')[1][:16] + ":00Z"
        opsbook = str(Path(sys.executable).parent / "opsbook")
        best = best_of(
            {
                "opsbook monitor replay": [
                    opsbook,
                    "monitor",
                    "replay",
                    "--from",
                    start,
                    "--to",
                    end,
                    "--every",
                    "5m",
                ],
                "DuckDB SQL": [sys.executable, "-c", DUCKDB_SQL],
                "jq projection": ["sh", "-c", "jq -c '[.ts, .level, .duration_ms]' app.jsonl"],
            },
            args.rounds,
            cwd=here,
        )
    print(f"{lines} lines, {size / 1e6:.0f} MB, best of {args.rounds}")
    for name, seconds in best.items():
        print(f"  {name:24} {seconds:7.2f} s")
    duck = best["DuckDB SQL"]
    print(f"  opsbook / DuckDB  = {best['opsbook monitor replay'] / duck:.2f}x")
    print(f"  jq / opsbook      = {best['jq projection'] / best['opsbook monitor replay']:.2f}x")
    print(f"  jq / DuckDB       = {best['jq projection'] / duck:.2f}x")


if __name__ == "__main__":
    main()
