"""Shared answers (gateway/core/shared_answers.py) over the in-memory backend: the round trip,
the time left carried across clocks, and what is not an answer read as a miss."""

from __future__ import annotations

from gateway.core.response_cache import ResponseCache
from gateway.core.shared_answers import SharedAnswers, answer_key
from gateway.state.memory import MemoryState


class Clock:
    def __init__(self, now: float) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


async def test_an_answer_comes_back_with_its_bytes_tags_and_the_time_it_has_left() -> None:
    state, here, wall = MemoryState(), Clock(10.0), Clock(1_000.0)
    local = ResponseCache(max_entries=10, max_bytes=10_000, clock=here)
    kept = local.put("k", b'{"data":1}', [("rv", "1")], 60, b"application/graphql-response+json")
    assert kept is not None
    writer = SharedAnswers(state, quiet_s=20, clock=here, wall_clock=wall)
    await writer.put("k", kept)
    # Another replica, whose monotonic clock reads something else, 15 s later.
    there = Clock(5_000.0)
    wall.now += 15
    reader = SharedAnswers(state, quiet_s=20, clock=there, wall_clock=wall)
    found = await reader.get("k")
    assert found is not None
    assert (found.body, found.etag, found.tags) == (kept.body, kept.etag, kept.tags)
    assert found.content_type == b"application/graphql-response+json"
    assert found.max_age(there.now) == 45
    assert (writer.counters.shared_stores, reader.counters.shared_hits) == (1, 1)
    wall.now += 60
    assert await reader.get("k") is None  # past its time (Redis would have expired it too)


async def test_what_is_not_an_answer_is_a_miss() -> None:
    state = MemoryState()
    reader = SharedAnswers(state, quiet_s=20)
    for payload in (b"no header line", b"[1]\nbody", b'{"type": "x"}\nbody', b"{not json\nbody"):
        await state.set(answer_key("k"), payload, 60)
        assert await reader.get("k") is None
    assert reader.counters.shared_hits == 0
