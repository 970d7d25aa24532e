"""Replicas forget together: an execution one replica learns has changed is dropped by all of them.

A webhook or a decision reaches one replica. That replica drops the execution from its own memory
and supersedes it in Redis (``ExecutionStore.invalidate``), then announces it here. Every other
replica, hearing it, drops the execution from its memory too: its copy, any read of it in flight,
and every whole answer that holds it. Announcements travel on the live bus (Redis pub/sub) and
arrive within milliseconds, not after a TTL. A replica that may have missed some (its queue fell
behind, or its Redis subscription was lost and came back) drops everything instead: that costs
upstream reads, never a stale answer.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
from dataclasses import dataclass
from typing import TYPE_CHECKING

from gateway.live.bus import SlowConsumer

if TYPE_CHECKING:
    from gateway.core.background import Background
    from gateway.core.store import ExecutionStore
    from gateway.live.redis_bus import RedisBus

__all__ = ["TOPIC", "Coherence", "CoherenceStats"]

TOPIC = "cache.changed"
QUEUE_SIZE = 10_000


@dataclass(slots=True)
class CoherenceStats:
    announced: int = 0
    """Changes learnt here and announced to the other replicas."""
    heard: int = 0
    """Changes another replica announced, dropped here."""
    forgot_everything: int = 0
    """Times this replica dropped all it held, having perhaps missed an announcement."""


class Coherence:
    def __init__(self, bus: RedisBus, store: ExecutionStore, background: Background) -> None:
        self._bus = bus
        self._store = store
        self._background = background
        self.origin = os.urandom(8).hex()
        """This replica, so that it skips its own announcements when Redis echoes them."""
        self.stats = CoherenceStats()
        self._reader: asyncio.Task[None] | None = None
        store.on_invalidate.append(self.announce)
        bus.on_reconnect.append(self._forget_everything)

    def start(self) -> None:
        self._reader = asyncio.get_running_loop().create_task(self._read())

    def announce(self, source: str, native_id: str) -> None:
        """Tell the other replicas (called once the change is superseded in Redis)."""
        self.stats.announced += 1
        message = {"origin": self.origin, "source": source, "id": native_id}
        self._background.spawn(
            self._bus.publish(TOPIC, message), "announcing a change to the other replicas"
        )

    async def _read(self) -> None:
        while True:
            subscription = self._bus.subscribe(TOPIC, queue_size=QUEUE_SIZE)
            try:
                async for message in subscription:
                    source, native_id = message.get("source"), message.get("id")
                    if message.get("origin") == self.origin:
                        continue
                    if isinstance(source, str) and isinstance(native_id, str):
                        self.stats.heard += 1
                        self._store.forget_here(source, native_id)
            except SlowConsumer:
                self._forget_everything()
            finally:
                subscription.close()

    def _forget_everything(self) -> None:
        self.stats.forgot_everything += 1
        self._store.forget_all_here()

    async def aclose(self) -> None:
        if self._reader is not None:
            self._reader.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._reader
            self._reader = None
