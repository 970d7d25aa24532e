"""The bus and the hub without a transport: slow consumers, message encoding, change detection."""

from __future__ import annotations

import asyncio
import dataclasses
from typing import TYPE_CHECKING

import pytest

from gateway.live.bus import InProcessBus, SlowConsumer
from tests.live.support import running_id

if TYPE_CHECKING:
    from tests.live.support import Live


async def test_a_slow_subscriber_is_dropped_and_the_others_get_everything() -> None:
    bus = InProcessBus()
    slow = bus.subscribe("t", queue_size=4)
    fast = bus.subscribe("t", queue_size=4)
    received = []
    for n in range(10):
        delivered = await bus.publish("t", {"n": n})
        received.append((await anext(fast))["n"])
        assert delivered == (2 if n < 4 else 1)
    assert received == list(range(10))
    with pytest.raises(SlowConsumer):
        await anext(slow)
    assert bus.dropped == 1
    assert bus.subscribers("t") == 1
    fast.close()
    assert bus.subscribers() == 0
    assert bus.topics == 0


async def test_messages_must_be_json() -> None:
    bus = InProcessBus()
    subscription = bus.subscribe("t", queue_size=1)
    with pytest.raises(TypeError):
        await bus.publish("t", {"when": object()})
    subscription.close()


async def test_a_slow_subscription_does_not_delay_the_others(live: Live) -> None:
    """Through the hub's real publish path: one subscriber never reads, another reads all."""
    hub = live.hub
    source, native = "rv", running_id(live.sandbox, "rotavision")
    slow = hub.execution_changes("slow", source, native)
    fast = hub.execution_changes("fast", source, native)
    current = await anext(slow)
    await anext(fast)
    size = hub.config.subscriber_queue
    seen = []
    for n in range(size + 5):
        changed = dataclasses.replace(current, raw={**current.raw, "n": n})
        assert await hub.observe(source, changed)
        seen.append((await asyncio.wait_for(anext(fast), 5)).raw["n"])
    assert seen == list(range(size + 5))
    with pytest.raises(SlowConsumer):
        await anext(slow)
    assert hub.stats.slow_consumers == 1
    await fast.aclose()  # type: ignore[attr-defined]
    await slow.aclose()  # type: ignore[attr-defined]
    assert hub.open_subscriptions == 0
    assert hub.polls == {}


async def test_an_unchanged_read_publishes_nothing(live: Live) -> None:
    native = running_id(live.sandbox, "rotavision")
    execution = await live.hub.read("rv", native)
    assert await live.hub.observe("rv", execution)
    assert not await live.hub.observe("rv", await live.hub.read("rv", native))
    assert live.hub.stats.published == 1


async def test_on_drop_is_called_once_when_a_subscriber_is_dropped() -> None:
    bus = InProcessBus()
    drops: list[str] = []
    subscription = bus.subscribe("t", queue_size=1, on_drop=lambda: drops.append("dropped"))
    for n in range(5):
        await bus.publish("t", {"n": n})
    assert drops == ["dropped"]
    subscription.close()
