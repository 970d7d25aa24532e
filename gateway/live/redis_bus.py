"""The publish/subscribe seam over Redis: a change published on one replica reaches subscribers on
every replica.

Each replica keeps its subscribers in an ``InProcessBus`` (bounded queues, slow consumers dropped,
as in one process) and listens to one Redis pattern subscription for all live topics; ``publish``
goes to Redis, and every replica, this one included, delivers what Redis hands it to its local
subscribers, so a message is delivered once per subscriber. While Redis is away, ``publish``
delivers to this replica's subscribers only, and the listener reconnects with a growing pause.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from typing import TYPE_CHECKING, Any

import redis.asyncio as aioredis
from redis.exceptions import RedisError

from gateway.live.bus import InProcessBus, Message, decode, encode

if TYPE_CHECKING:
    from collections.abc import Callable

    from gateway.live.bus import BusSubscription

__all__ = ["RedisBus"]

log = logging.getLogger("gateway.live")
RECONNECT_MAX_S = 5.0


class RedisBus:
    def __init__(self, url: str, *, prefix: str = "gateway:", timeout_s: float = 1.0) -> None:
        self._channel_prefix = f"{prefix}live:"
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
        self._listener = asyncio.get_running_loop().create_task(self._listen())
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._listening.wait(), timeout=5)

    async def publish(self, topic: str, message: Message) -> int:
        data = encode(message)
        try:
            receivers: int = await self._client.publish(self._channel_prefix + topic, data)
        except (RedisError, OSError) as error:
            self.remote_failures += 1
            log.warning(
                "live: Redis unreachable, delivering here only", extra={"error": str(error)}
            )
            return await self.local.publish(topic, message)
        return receivers

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
                with contextlib.suppress(RedisError, OSError):
                    await pubsub.aclose()  # type: ignore[no-untyped-call]

    async def aclose(self) -> None:
        if self._listener is not None:
            self._listener.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._listener
            self._listener = None
        await self._client.aclose()
