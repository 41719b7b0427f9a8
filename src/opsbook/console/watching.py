"""What ``opsbook watch`` prints: one line per transition and per notification sent."""

from __future__ import annotations

import json as jsonlib
import sys
from collections.abc import Callable
from datetime import datetime

from opsbook.console import out
from opsbook.console.untrusted import escape
from opsbook.monitor.ticks import TickResult


def tick_printer(as_json: bool) -> Callable[[datetime, list[TickResult]], None]:
    def show(now: datetime, results: list[TickResult]) -> None:
        from opsbook.monitor.evaluate import Evaluation

        stamp = now.strftime("%Y-%m-%d %H:%M:%S")
        for result in results:
            lines: list[dict[str, object]] = []
            if result.error:
                lines.append({"time": stamp, "tick": result.name, "error": result.error})
            elif isinstance(result.result, Evaluation):
                for change in result.result.transitions:
                    lines.append(
                        {
                            "time": stamp,
                            "alert": change.alert,
                            "event": change.event,
                            "labels": change.labels,
                        }
                    )
            elif result.name == "deliver" and isinstance(result.result, list):
                for sent in result.result:
                    lines.append(
                        {
                            "time": stamp,
                            "receiver": sent.receiver,
                            "notification": sent.id,
                            "sent": sent.ok,
                            "error": sent.error,
                        }
                    )
            for line in lines:
                if as_json:
                    sys.stdout.write(jsonlib.dumps(line) + "\n")
                    sys.stdout.flush()
                else:
                    out.print(escape(" ".join(f"{k}={v}" for k, v in line.items())))

    return show
