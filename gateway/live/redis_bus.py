"""The publish/subscribe seam over Redis: a change published on one replica reaches subscribers on
every replica.

Each replica keeps its subscribers in an ``InProcessBus`` (bounded queues, slow consumers dropped,
as in one process) and listens to one Redis pattern subscription for all live topics; ``publish``
goes to Redis, and every replica, this one included, delivers what Redis hands it to its local
subscribers, so a message is delivered once per subscriber. While Redis is away, ``publish``
delivers to this replica's subscribers only, and the listener reconnects with a growing pause.

The logged topics (``executions``, ``approvals``: resumable subscriptions) go through a Redis
stream each instead of pub/sub: ``XADD`` trimmed to the log's bounds (count, then age), and each
replica tails the streams (``XREAD BLOCK``) and delivers every entry with its id as its position.
So every replica delivers in the stream's order, a client may resume on any replica, and a
replica whose Redis link broke catches up from the last id it read. While Redis is away a change
is delivered here only, without a position.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from typing import TYPE_CHECKING, Any

import redis.asyncio as aioredis
from redis.exceptions import RedisError, ResponseError

from gateway.live.bus import InProcessBus, Message, decode, encode
from gateway.live.changelog import (
    LOGGED_TOPICS,
    POSITION_FIELD,
    LogBounds,
    ResumeTooOld,
    parse_position,
)

if TYPE_CHECKING:
    from collections.abc import Callable

    from gateway.live.bus import BusSubscription

__all__ = ["RedisBus"]

log = logging.getLogger("gateway.live")
RECONNECT_MAX_S = 5.0


class RedisBus:
    def __init__(
        self,
        url: str,
        *,
        prefix: str = "gateway:",
        timeout_s: float = 1.0,
        bounds: LogBounds | None = None,
    ) -> None:
        self._channel_prefix = f"{prefix}live:"
        self._log_prefix = f"{prefix}log:"
        self.bounds = bounds or LogBounds()
        self._tail_task: asyncio.Task[None] | None = None
        self._tailing = asyncio.Event()
        self._client: aioredis.Redis = aioredis.Redis.from_url(
            url, socket_connect_timeout=timeout_s, health_check_interval=30
        )
        self.local = InProcessBus()
        self._listener: asyncio.Task[None] | None = None
        self._listening = asyncio.Event()
        self.remote_failures = 0
        """Publishes that could not reach Redis (delivered to this replica only)."""
        self.on_reconnect: list[Callable[[], object]] = []
        """Told when the subscription is back after being lost: messages may have been missed."""

    @property
    def dropped(self) -> int:
        return self.local.dropped

    async def start(self) -> None:
        """Start listening; returns once the first subscription is in place (or failed)."""
        loop = asyncio.get_running_loop()
        self._listener = loop.create_task(self._listen())
        self._tail_task = loop.create_task(self._tail())
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._listening.wait(), timeout=5)
            await asyncio.wait_for(self._tailing.wait(), timeout=5)

    async def publish(self, topic: str, message: Message) -> int:
        data = encode(message)
        if topic in LOGGED_TOPICS:
            return await self._append(topic, data, message)
        try:
            receivers: int = await self._client.publish(self._channel_prefix + topic, data)
        except (RedisError, OSError) as error:
            self.remote_failures += 1
            log.warning(
                "live: Redis unreachable, delivering here only", extra={"error": str(error)}
            )
            return await self.local.publish(topic, message)
        return receivers

    async def _append(self, topic: str, data: bytes, message: Message) -> int:
        """Into the topic's stream, trimmed to the bounds; every replica's tail delivers it."""
        key = self._log_prefix + topic
        oldest_ms = int((time.time() - self.bounds.max_age_s) * 1000)
        try:
            async with self._client.pipeline(transaction=False) as pipe:
                pipe.xadd(key, {"m": data}, maxlen=self.bounds.max_entries, approximate=False)
                pipe.xtrim(key, minid=f"{oldest_ms}-0", approximate=False)
                await pipe.execute()
        except (RedisError, OSError) as error:
            self.remote_failures += 1
            log.warning(
                "live: Redis unreachable, delivering here only", extra={"error": str(error)}
            )
            return await self.local.publish(topic, message)
        return 1

    async def replay(self, topic: str, after: str) -> list[Message]:
        """What the topic's stream holds after ``after``: the entry ``after`` must still be in
        it (else entries after it may have been trimmed), unless it is the last id the stream
        ever gave (an idle stream trimmed by age)."""
        if parse_position(after) is None:
            raise ResumeTooOld(after)
        key = self._log_prefix + topic
        try:
            entries: Any = await self._client.xrange(
                key, min=after, max="+", count=self.bounds.max_entries + 1
            )
            if entries and _text(entries[0][0]) == after:
                return [m for m in (_entry(i, f) for i, f in entries[1:]) if m is not None]
            info: Any = await self._client.xinfo_stream(key)
        except ResponseError:  # no such stream: this position is from another log
            raise ResumeTooOld(after) from None
        except (RedisError, OSError) as error:
            log.warning("live: Redis unreachable, cannot resume", extra={"error": str(error)})
            raise ResumeTooOld(after) from error
        if _text(info.get("last-generated-id", b"")) == after:
            return []
        raise ResumeTooOld(after)

    async def _tail(self) -> None:
        """Deliver every entry of the logged topics' streams here, in order, from the ids they
        had at start-up; after a lost connection, from the last id read."""
        topics = {self._log_prefix + topic: topic for topic in LOGGED_TOPICS}
        last: dict[str, str] = {}
        pause = 0.1
        while True:
            try:
                if not last:
                    for key in topics:
                        newest: Any = await self._client.xrevrange(key, count=1)
                        last[key] = _text(newest[0][0]) if newest else "0-0"
                    self._tailing.set()
                found: Any = await self._client.xread(last, count=100, block=1000)  # type: ignore[arg-type]
                pause = 0.1
                for stream, entries in found or []:
                    key = _text(stream)
                    for entry_id, fields in entries:
                        last[key] = _text(entry_id)
                        message = _entry(entry_id, fields)
                        if message is not None:
                            await self.local.publish(topics[key], message)
            except asyncio.CancelledError:
                raise
            except (RedisError, OSError) as error:
                log.warning("live: Redis streams unreadable; retrying", extra={"error": str(error)})
                self._tailing.set()  # do not hold start-up hostage to Redis
                await asyncio.sleep(pause)
                pause = min(pause * 2, RECONNECT_MAX_S)

    def subscribe(
        self, topic: str, *, queue_size: int, on_drop: Callable[[], None] | None = None
    ) -> BusSubscription:
        return self.local.subscribe(topic, queue_size=queue_size, on_drop=on_drop)

    def subscribers(self, topic: str | None = None) -> int:
        return self.local.subscribers(topic)

    @property
    def topics(self) -> int:
        return self.local.topics

    async def _listen(self) -> None:
        pause = 0.1
        lost = False
        while True:
            pubsub = self._client.pubsub(ignore_subscribe_messages=True)
            try:
                await pubsub.psubscribe(self._channel_prefix + "*")
                self._listening.set()
                pause = 0.1
                if lost:
                    lost = False
                    for listener in self.on_reconnect:
                        listener()
                while True:
                    item: dict[str, Any] | None = await pubsub.get_message(timeout=1.0)
                    if item is None or item.get("type") != "pmessage":
                        continue
                    channel = item["channel"]
                    channel = channel.decode() if isinstance(channel, bytes) else channel
                    try:
                        message = decode(item["data"])
                    except (TypeError, ValueError):
                        continue
                    await self.local.publish(channel[len(self._channel_prefix) :], message)
            except asyncio.CancelledError:
                raise
            except (RedisError, OSError) as error:
                lost = True
                log.warning(
                    "live: Redis subscription lost; reconnecting", extra={"error": str(error)}
                )
                self._listening.set()  # do not hold start-up hostage to Redis
                await asyncio.sleep(pause)
                pause = min(pause * 2, RECONNECT_MAX_S)
            finally:
                # Bounded: closing a subscription to a Redis that went away and came back could
                # wait for ever, and with it the shutdown that cancelled this task.
                with contextlib.suppress(RedisError, OSError, TimeoutError):
                    async with asyncio.timeout(CLOSE_TIMEOUT_S):
                        await pubsub.aclose()  # type: ignore[no-untyped-call]

    async def aclose(self) -> None:
        """Stop listening and tailing, each task given ``CLOSE_TIMEOUT_S`` to end: a shutdown
        never waits on a Redis connection that does not answer."""
        tasks = {task for task in (self._listener, self._tail_task) if task is not None}
        for task in tasks:
            task.cancel()
        if tasks:
            await asyncio.wait(tasks, timeout=CLOSE_TIMEOUT_S)
        self._listener = self._tail_task = None
        with contextlib.suppress(RedisError, OSError, TimeoutError):
            async with asyncio.timeout(CLOSE_TIMEOUT_S):
                await self._client.aclose()


CLOSE_TIMEOUT_S = 2.0
"""How long closing waits on Redis at shutdown."""


def _text(value: bytes | str) -> str:
    return value.decode() if isinstance(value, bytes) else value


def _entry(entry_id: bytes | str, fields: dict[Any, Any]) -> Message | None:
    """A stream entry as the message it logged, with its id as its position (None: not ours)."""
    data = fields.get(b"m", fields.get("m"))
    if not isinstance(data, bytes | str):
        return None
    try:
        message = decode(data.encode() if isinstance(data, str) else data)
    except (TypeError, ValueError):
        return None
    message[POSITION_FIELD] = _text(entry_id)
    return message
