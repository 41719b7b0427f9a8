"""Capped step output: the head and the tail are kept, the middle is counted and dropped."""

from __future__ import annotations

import os
from collections import deque

CAP_ENV = "OPSBOOK_OUTPUT_CAP"
DEFAULT_CAP = 256 * 1024
"""Bytes of output stored per attempt (half head, half tail)."""


def output_cap() -> int:
    return int(os.environ.get(CAP_ENV, DEFAULT_CAP))


class CappedOutput:
    """Collects lines; keeps the first and last ``cap // 2`` characters' worth of them.

    >>> out = CappedOutput(cap=20)
    >>> for i in range(100): out.add(f"line {i}")
    >>> print(out.text())
    line 0
    line 1
    [... 96 lines omitted ...]
    line 98
    line 99
    """

    def __init__(self, cap: int | None = None) -> None:
        self.cap = output_cap() if cap is None else cap
        self._head: list[str] = []
        self._head_size = 0
        self._tail: deque[str] = deque()
        self._tail_size = 0
        self.dropped = 0

    def add(self, line: str) -> None:
        half = self.cap // 2
        size = len(line) + 1
        if self._head_size + size <= half and not self._tail and not self.dropped:
            self._head.append(line)
            self._head_size += size
            return
        self._tail.append(line)
        self._tail_size += size
        while self._tail_size > half and self._tail:
            self._tail_size -= len(self._tail.popleft()) + 1
            self.dropped += 1

    def text(self) -> str:
        parts = list(self._head)
        if self.dropped:
            parts.append(f"[... {self.dropped} lines omitted ...]")
        parts.extend(self._tail)
        return "\n".join(parts)

    def tail(self, n: int) -> list[str]:
        lines = [*self._head, *self._tail]
        return lines[-n:]
