"""The response cache keeps what it is given within its bounds, and drops it by execution."""

from __future__ import annotations

from gateway.core.response_cache import ResponseCache, answer_key, entity_tag


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def cache(entries: int = 10, max_bytes: int = 10_000, clock: Clock | None = None) -> ResponseCache:
    return ResponseCache(max_entries=entries, max_bytes=max_bytes, clock=clock or Clock())


def test_the_key_depends_on_document_name_variables_and_visibility() -> None:
    base = answer_key("{ a }", None, {"x": 1, "y": 2}, ["viewer"])
    assert base == answer_key("{ a }", None, {"y": 2, "x": 1}, ["viewer"])
    assert base == answer_key("{ a }", None, {"x": 1, "y": 2}, frozenset({"viewer"}))
    assert base != answer_key("{ a b }", None, {"x": 1, "y": 2}, ["viewer"])
    assert base != answer_key("{ a }", "Op", {"x": 1, "y": 2}, ["viewer"])
    assert base != answer_key("{ a }", None, {"x": 1, "y": 3}, ["viewer"])
    assert base != answer_key("{ a }", None, {"x": 1, "y": 2}, ["viewer", "approver"])


def test_a_stored_answer_is_returned_with_its_etag_until_it_expires() -> None:
    clock = Clock()
    answers = cache(clock=clock)
    assert answers.get("k") is None
    stored = answers.put("k", b'{"data":{}}', [("rv", "1")], ttl_s=60)
    assert stored is not None
    hit = answers.get("k")
    assert hit is not None
    assert hit.body == b'{"data":{}}'
    assert hit.etag == entity_tag(b'{"data":{}}')
    assert hit.max_age(clock.now) == 60
    clock.now += 60
    assert answers.get("k") is None
    assert (answers.counters.hits, answers.counters.misses) == (1, 2)


def test_invalidating_an_execution_drops_every_answer_that_holds_it() -> None:
    answers = cache()
    answers.put("a", b"1", [("rv", "1"), ("tl", "9")], ttl_s=60)
    answers.put("b", b"2", [("rv", "1")], ttl_s=60)
    answers.put("c", b"3", [("tl", "9")], ttl_s=60)
    assert answers.invalidate("rv", "1") == 2
    assert answers.get("a") is None
    assert answers.get("b") is None
    assert answers.get("c") is not None
    assert answers.invalidate("rv", "1") == 0
    assert answers.counters.invalidations == 2


def test_entries_and_bytes_are_bounded_least_recently_used_first() -> None:
    answers = cache(entries=2, max_bytes=10)
    answers.put("a", b"1234", [], ttl_s=60)
    answers.put("b", b"1234", [], ttl_s=60)
    assert answers.get("a") is not None  # a is now the most recently used
    answers.put("c", b"1234", [], ttl_s=60)
    assert answers.get("b") is None
    assert answers.get("a") is not None
    answers.put("d", b"123456789", [], ttl_s=60)
    assert len(answers) == 1
    assert answers.size_bytes == 9
    assert answers.counters.evictions == 3


def test_too_big_or_zero_ttl_or_disabled_stores_nothing() -> None:
    answers = cache(max_bytes=4)
    assert answers.put("a", b"12345", [], ttl_s=60) is None
    assert answers.put("a", b"1", [], ttl_s=0) is None
    off = cache(entries=0)
    assert not off.enabled
    assert off.put("a", b"1", [], ttl_s=60) is None


def test_storing_a_key_again_replaces_it_and_its_tags() -> None:
    answers = cache()
    answers.put("a", b"old", [("rv", "1")], ttl_s=60)
    answers.put("a", b"new", [("rv", "2")], ttl_s=60)
    assert answers.invalidate("rv", "1") == 0
    assert answers.size_bytes == 3
    assert answers.invalidate("rv", "2") == 1
    assert answers.size_bytes == 0


def test_an_answer_computed_while_one_of_its_executions_was_dropped_is_not_kept() -> None:
    answers = cache()
    since = answers.epoch  # the request begins
    answers.invalidate("rv", "1")  # a webhook: rv/1 changed while the answer was computed
    assert answers.put("old", b"1", [("rv", "1"), ("tl", "9")], ttl_s=60, since=since) is None
    assert answers.counters.refused == 1
    # An answer that does not hold it is kept; one begun after the drop is kept.
    assert answers.put("other", b"2", [("tl", "9")], ttl_s=60, since=since) is not None
    assert answers.put("new", b"3", [("rv", "1")], ttl_s=60, since=answers.epoch) is not None


def test_a_forgotten_drop_or_a_clear_refuses_every_answer_begun_before_it() -> None:
    from gateway.core import response_cache

    answers = cache()
    since = answers.epoch
    for n in range(response_cache.REMEMBERED_DROPS + 1):
        answers.invalidate("rv", str(n))  # rv/0's drop is forgotten: no longer told apart
    assert answers.put("a", b"1", [("tl", "unrelated")], ttl_s=60, since=since) is None
    since = answers.epoch
    answers.clear()
    assert answers.put("b", b"1", [("tl", "unrelated")], ttl_s=60, since=since) is None
    assert answers.put("c", b"1", [("tl", "unrelated")], ttl_s=60, since=answers.epoch) is not None
