"""The publish/subscribe seam: topics of JSON messages, one bounded queue per subscriber.

``Bus`` is what the rest of ``gateway.live`` uses; ``InProcessBus`` serves one process. A Redis
implementation can stand behind the same Protocol: topics are plain strings and every message is
encoded to JSON bytes at publish (``encode``), so nothing that cannot cross a process is ever
published. A subscriber that lets its queue fill is dropped (``SlowConsumer``) instead of making
the publisher wait: one stalled client never delays the others.
"""

from __future__ import annotations

import asyncio
from collections import deque
from typing import TYPE_CHECKING, Protocol

import orjson

from gateway.live.changelog import LOGGED_TOPICS, POSITION_FIELD, Message, ResumeTooOld

if TYPE_CHECKING:
    from collections.abc import AsyncIterator, Callable

    from gateway.live.changelog import MemoryLog

__all__ = ["Bus", "BusSubscription", "InProcessBus", "Message", "SlowConsumer", "decode", "encode"]

"""A JSON object: strings, numbers, booleans, null, lists and objects only."""


class SlowConsumer(Exception):
    """The subscriber fell more than its queue behind and was dropped."""


def encode(message: Message) -> bytes:
    """The wire form of a message; raises TypeError for anything JSON cannot carry."""
    return orjson.dumps(message)


def decode(data: bytes) -> Message:
    value = orjson.loads(data)
    if not isinstance(value, dict):
        raise TypeError("a bus message is a JSON object")
    return value


class BusSubscription(Protocol):
    """Messages of one topic, in publish order, until ``close``."""

    def __aiter__(self) -> AsyncIterator[Message]: ...

    async def __anext__(self) -> Message: ...

    def close(self) -> None: ...


class Bus(Protocol):
    async def publish(self, topic: str, message: Message) -> int:
        """Deliver to every current subscriber of ``topic``; returns how many got it."""
        ...

    def subscribe(
        self, topic: str, *, queue_size: int, on_drop: Callable[[], None] | None = None
    ) -> BusSubscription:
        """Start receiving ``topic`` now: messages published after this call arrive.
        ``on_drop`` is called once if the subscriber is dropped as a slow consumer (its reader
        may be stuck elsewhere, e.g. writing to a stalled socket, and never see the error)."""
        ...

    async def replay(self, topic: str, after: str) -> list[Message]:
        """The messages of a logged topic published after the position ``after``, in order,
        each with its ``position``; ResumeTooOld when the log cannot say
        (gateway/live/changelog.py)."""
        ...


class _Queue:
    """One subscriber's buffer: bounded, never blocks the publisher."""

    __slots__ = ("_bus", "_items", "_on_drop", "_size", "_wake", "closed", "dropped", "topic")

    def __init__(
        self, bus: InProcessBus, topic: str, size: int, on_drop: Callable[[], None] | None
    ) -> None:
        self._bus = bus
        self._on_drop = on_drop
        self.topic = topic
        self._size = size
        self._items: deque[Message] = deque()
        self._wake = asyncio.Event()
        self.closed = False
        self.dropped = False

    def offer(self, message: Message) -> bool:
        if len(self._items) >= self._size:
            self.dropped = True
            self._items.clear()
            self._wake.set()
            self._bus.detach(self)
            if self._on_drop is not None:
                self._on_drop()
            return False
        self._items.append(message)
        self._wake.set()
        return True

    def __aiter__(self) -> _Queue:
        return self

    async def __anext__(self) -> Message:
        while not self._items:
            if self.dropped:
                raise SlowConsumer(f"more than {self._size} changes behind on {self.topic}")
            if self.closed:
                raise StopAsyncIteration
            self._wake.clear()
            await self._wake.wait()
        return self._items.popleft()

    def close(self) -> None:
        if not self.closed:
            self.closed = True
            self._items.clear()
            self._wake.set()
            self._bus.detach(self)


class InProcessBus:
    """Topics to subscriber queues in this process; messages pass as JSON, as they would
    through Redis. With a ``log``, each message of a logged topic gets its position there
    first (a Redis replica's local bus has none: positions come from the stream)."""

    def __init__(self, log: MemoryLog | None = None) -> None:
        self._topics: dict[str, set[_Queue]] = {}
        self._log = log
        self.dropped = 0
        """Subscribers dropped as slow consumers since start-up."""

    async def publish(self, topic: str, message: Message) -> int:
        logged = self._log is not None and topic in LOGGED_TOPICS
        queues = self._topics.get(topic)
        if not queues and not logged:
            return 0
        delivered = decode(encode(message))  # what another process would receive
        if self._log is not None and logged:
            # The logged copy carries its position too: a replay hands it out as it is.
            delivered[POSITION_FIELD] = self._log.append(topic, delivered)
        if not queues:
            return 0
        count = 0
        for queue in list(queues):
            if queue.offer(delivered):
                count += 1
            else:
                self.dropped += 1
        return count

    def subscribe(
        self, topic: str, *, queue_size: int, on_drop: Callable[[], None] | None = None
    ) -> _Queue:
        queue = _Queue(self, topic, queue_size, on_drop)
        self._topics.setdefault(topic, set()).add(queue)
        return queue

    async def replay(self, topic: str, after: str) -> list[Message]:
        if self._log is None:
            raise ResumeTooOld(after)
        return self._log.after(topic, after)

    def detach(self, queue: _Queue) -> None:
        queues = self._topics.get(queue.topic)
        if queues is not None:
            queues.discard(queue)
            if not queues:
                del self._topics[queue.topic]

    def subscribers(self, topic: str | None = None) -> int:
        """Subscriptions open now, on ``topic`` or on all topics (leak checks, metrics)."""
        if topic is not None:
            return len(self._topics.get(topic, ()))
        return sum(len(q) for q in self._topics.values())

    @property
    def topics(self) -> int:
        return len(self._topics)
