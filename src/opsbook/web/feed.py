"""Live events for SSE: one poller per process reads new events from the store and fans them
out to every subscriber, so 50 watchers cost one query per tick, not 50."""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

import anyio.to_thread

from opsbook.isotime import with_iso_times
from opsbook.store import Store
from opsbook.store import feed as q

TICK = 0.2  # seconds between looks at the log
KEEPALIVE = 15.0
FINAL = ("run_finished",)


@dataclass(frozen=True)
class Formatted:
    """An event and its SSE text, made once however many clients receive it."""

    seq: int
    type: str
    text: str

    @classmethod
    def of(cls, row: dict[str, Any]) -> Formatted:
        return cls(row["seq"], row["type"], _format(row))


@dataclass(eq=False)
class Subscriber:
    run_id: str | None
    queue: asyncio.Queue[Formatted | None] = field(
        default_factory=lambda: asyncio.Queue(maxsize=2000)
    )


class EventHub:
    def __init__(self, store: Store, tick: float = TICK) -> None:
        self.store = store
        self.tick = tick
        self.subscribers: set[Subscriber] = set()
        self.last = 0
        self.closed = False
        self._task: asyncio.Task[None] | None = None

    def _read_head(self) -> int:
        with self.store.read() as conn:
            return q.head_seq(conn)

    def _read_after(self, seq: int, run_id: str | None = None) -> list[dict[str, Any]]:
        with self.store.read() as conn:
            return q.events_after(conn, seq, run_id=run_id)

    async def start(self) -> None:
        self.last = await anyio.to_thread.run_sync(self._read_head)
        self._task = asyncio.create_task(self._poll())

    async def close(self) -> None:
        self.closed = True
        for sub in list(self.subscribers):
            with contextlib.suppress(asyncio.QueueFull):
                sub.queue.put_nowait(None)
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task

    async def _poll(self) -> None:
        while not self.closed:
            await asyncio.sleep(self.tick)
            if not self.subscribers:
                self.last = await anyio.to_thread.run_sync(self._read_head)
                continue
            try:
                rows = await anyio.to_thread.run_sync(self._read_after, self.last)
            except Exception:  # the store is briefly unavailable: try again next tick
                continue
            for row in rows:
                self.last = max(self.last, row["seq"])
                event = Formatted.of(row)
                for sub in list(self.subscribers):
                    if sub.run_id is None or sub.run_id == row["run_id"]:
                        try:
                            sub.queue.put_nowait(event)
                        except asyncio.QueueFull:  # too slow: drop; it reconnects with its id
                            self.subscribers.discard(sub)
                            sub.queue = asyncio.Queue(maxsize=1)
                            sub.queue.put_nowait(None)

    async def stream(self, run_id: str, after: int, finished: bool) -> AsyncIterator[str]:
        """SSE text for one run: its events after ``after`` (the backlog), then live ones; ends
        when the run finishes or the server stops."""
        sub = Subscriber(run_id)
        self.subscribers.add(sub)
        try:
            sent = after
            backlog = await anyio.to_thread.run_sync(self._read_after, after, run_id)
            for row in backlog:
                sent = row["seq"]
                yield _format(row)
            if finished or any(r["type"] in FINAL for r in backlog):
                yield "event: end\ndata: {}\n\n"
                return
            while not self.closed:
                try:
                    got: Formatted | None = await asyncio.wait_for(sub.queue.get(), KEEPALIVE)
                except TimeoutError:
                    yield ": keepalive\n\n"
                    continue
                # Everything already queued goes out in one write: a tick of the hub brings
                # several events, and one send per event is what costs with many watchers.
                batch = [got]
                while not sub.queue.empty():
                    batch.append(sub.queue.get_nowait())
                chunk, ended = [], False
                for item in batch:
                    if item is None:
                        ended = True
                        break
                    if item.seq <= sent:
                        continue
                    sent = item.seq
                    chunk.append(item.text)
                    if item.type in FINAL:
                        chunk.append("event: end\ndata: {}\n\n")
                        ended = True
                        break
                if chunk:
                    yield "".join(chunk)
                if ended:
                    return
        finally:
            self.subscribers.discard(sub)


def _format(row: dict[str, Any]) -> str:
    data = json.dumps(with_iso_times(row), default=str, separators=(",", ":"))
    return f"id: {row['seq']}\nevent: message\ndata: {data}\n\n"
