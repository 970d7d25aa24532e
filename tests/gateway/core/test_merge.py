"""The merged feed's engine (gateway/core/merge.py) over fake upstreams: order, resume, bounds, faults."""

from __future__ import annotations

import random
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta, timezone
from typing import TYPE_CHECKING

import pytest

from adapters.base import Capability, ExecutionPage
from adapters.errors import ExecutionNotFound, UpstreamUnavailable
from adapters.model import Execution, ExecutionStatus
from gateway.core.merge import Item, Merge, Outcome, Position, Verdict, sort_key, status_needs_steps

if TYPE_CHECKING:
    from collections.abc import Callable, Sequence

T0 = datetime(2026, 11, 1, 12, 0, tzinfo=UTC)


def run(
    native_id: str,
    minutes_ago: float | None,
    status: ExecutionStatus = ExecutionStatus.COMPLETED,
    *,
    created_minutes_ago: float | None = None,
) -> Execution:
    started = None if minutes_ago is None else T0 - timedelta(minutes=minutes_ago)
    created = None if created_minutes_ago is None else T0 - timedelta(minutes=created_minutes_ago)
    return Execution(
        native_id=native_id,
        status=status,
        upstream_status=status.value.lower(),
        raw={"id": native_id},
        started_at=started,
        created_at=created,
    )


@dataclass
class Upstream:
    """A list API over ``items`` (its own order): id cursors, or page numbers."""

    name: str
    items: list[Execution]
    page_numbers: bool = False
    complete: bool = True
    fail: bool = False
    total: bool = False
    reported_totals: list[int | None] | None = None
    """When set, the total each successive page reports (instead of ``len(items)``)."""
    calls: int = 0
    sizes: list[int] = field(default_factory=list)

    async def page(self, cursor: str | None, size: int) -> ExecutionPage:
        self.calls += 1
        if self.fail:
            raise UpstreamUnavailable(source=self.name)
        if self.page_numbers:
            number = int(cursor or "1")
            chunk = self.items[(number - 1) * size : number * size]
            more = number * size < len(self.items)
            next_cursor = str(number + 1) if more else None
        else:
            ids = [e.native_id for e in self.items]
            start = 0 if cursor is None else ids.index(cursor) + 1
            chunk = self.items[start : start + size]
            more = start + size < len(self.items)
            next_cursor = chunk[-1].native_id if more else None
        return ExecutionPage(
            items=tuple(chunk),
            next_cursor=next_cursor,
            total=self._total(),
            complete=self.complete,
        )

    def _total(self) -> int | None:
        if self.reported_totals is not None:
            return self.reported_totals.pop(0)
        return len(self.items) if self.total else None


def keep(source: str, item: Item) -> Verdict:
    return Verdict.KEEP


@dataclass
class Feed:
    upstreams: dict[str, Upstream]
    judge: Callable[[str, Item], Verdict] = keep
    full: dict[tuple[str, str], Execution] = field(default_factory=dict)
    page_size: int = 3
    max_pages: int = 10
    max_loads: int = 250
    loads: list[list[str]] = field(default_factory=list)
    answer: Callable[[str, Sequence[str]], Sequence[Execution | BaseException]] | None = None
    """When set, what every load answers (instead of looking up ``full``)."""

    async def _list(self, source: str, cursor: str | None, size: int) -> ExecutionPage:
        return await self.upstreams[source].page(cursor, size)

    async def _load(
        self, source: str, native_ids: Sequence[str]
    ) -> Sequence[Execution | BaseException]:
        self.loads.append(list(native_ids))
        if self.answer is not None:
            return self.answer(source, native_ids)
        return [
            self.full.get((source, n)) or ExecutionNotFound(source=source, native_id=n)
            for n in native_ids
        ]

    async def page(self, first: int, positions: dict[str, Position] | None = None) -> Outcome:
        positions = positions or {name: Position() for name in self.upstreams}
        merge = Merge(
            positions,
            list_page=self._list,
            load=self._load,
            judge=self.judge,
            page_size=self.page_size,
            max_pages=self.max_pages,
            max_loads=self.max_loads,
        )
        return await merge.run(first)

    async def walk(self, first: int, *, max_calls: int = 1000) -> tuple[list[str], int]:
        """Every page until the end, resuming from each page's end; the global ids and pages."""
        seen: list[str] = []
        positions: dict[str, Position] | None = None
        for calls in range(1, max_calls + 1):
            outcome = await self.page(first, positions)
            assert len(outcome.emitted) <= first
            seen += [f"{e.source}:{e.item.execution.native_id}" for e in outcome.emitted]
            if not outcome.has_next:
                return seen, calls
            positions = {n: Position.load(p) for n, p in outcome.end.items()}
        raise AssertionError("the walk did not end")


def newest_first(source: str, executions: list[Execution]) -> list[Execution]:
    return sorted(executions, key=lambda e: sort_key(source, e), reverse=True)


def seeded_upstreams(seed: int = 3) -> dict[str, Upstream]:
    rng = random.Random(seed)
    upstreams: dict[str, Upstream] = {}
    for name, page_numbers in (("a", False), ("b", True), ("c", False)):
        executions = [
            run(f"{name}{i:03d}", rng.choice([None, *range(0, 300, 7)]))
            for i in range(rng.randint(20, 40))
        ]
        upstreams[name] = Upstream(name, newest_first(name, executions), page_numbers)
    return upstreams


def expected(upstreams: dict[str, Upstream]) -> list[str]:
    everything = [(name, e) for name, u in upstreams.items() for e in u.items]
    everything.sort(key=lambda pair: sort_key(*pair), reverse=True)
    return [f"{name}:{e.native_id}" for name, e in everything]


def test_sort_key_is_newest_first_with_created_fallback_and_untimed_last() -> None:
    executions = {
        "new": run("new", 1),
        "created-only": run("created-only", None, created_minutes_ago=2),
        "old": run("old", 30),
        "untimed-b": run("untimed-b", None),
        "untimed-a": run("untimed-a", None),
    }
    order = sorted(executions, key=lambda n: sort_key("s", executions[n]), reverse=True)
    assert order == ["new", "created-only", "old", "untimed-b", "untimed-a"]
    # Same time: the global id decides, descending.
    assert sort_key("s", run("b", 5)) > sort_key("s", run("a", 5))
    assert sort_key("zz", run("a", 5)) > sort_key("aa", run("a", 5))


@pytest.mark.parametrize("first", [1, 2, 5, 7, 100])
async def test_paging_the_merge_visits_everything_once_in_order(first: int) -> None:
    upstreams = seeded_upstreams()
    seen, _ = await Feed(upstreams).walk(first)
    assert seen == expected(upstreams)


async def test_an_upstream_out_of_order_still_yields_each_item_once() -> None:
    upstreams = seeded_upstreams()
    random.Random(5).shuffle(upstreams["a"].items)
    seen, _ = await Feed(upstreams).walk(4)
    assert sorted(seen) == sorted(expected(upstreams))
    assert len(seen) == len(set(seen))


async def test_positions_survive_the_cursor_round_trip() -> None:
    upstreams = seeded_upstreams()
    outcome = await Feed(upstreams).page(5)
    for snapshot in (outcome.end, *(e.after for e in outcome.emitted)):
        for raw in snapshot.values():
            assert Position.load(raw).dump() == raw
    bad_positions = (
        [1, 2],
        "x",
        ["c", -1, None],
        ["c", True, None],
        ["c", 1.5, None],
        ["c", "1", None],
        [None, 0, 5],
        [7, 0, None],
    )
    for bad in bad_positions:
        with pytest.raises(ValueError, match=r"^a position is \[cursor, offset, anchor\] or null$"):
            Position.load(bad)


async def test_a_page_number_upstream_that_shifts_repeats_nothing_and_misses_nothing() -> None:
    """Within a page the anchor absorbs the shift; across a page boundary only the offset is
    left (docs/feed.md says so)."""
    items = [run(f"n{i:02d}", i) for i in range(1, 31)]
    upstream = Upstream("n", list(items), page_numbers=True)
    feed = Feed({"n": upstream}, page_size=10)
    first = await feed.page(3)
    seen = [e.item.execution.native_id for e in first.emitted]
    # Two newer runs arrive: everything slides two places down the pages.
    upstream.items[:0] = [run("new2", 0.2), run("new1", 0.1)]
    second = await feed.page(3, {"n": Position.load(first.end["n"])})
    seen += [e.item.execution.native_id for e in second.emitted]
    # One already-seen run is deleted: everything slides one place up.
    upstream.items.remove(items[0])
    third = await feed.page(3, {"n": Position.load(second.end["n"])})
    seen += [e.item.execution.native_id for e in third.emitted]
    assert seen == [f"n{i:02d}" for i in range(1, 10)]
    assert third.end == {"n": ["2", 0, "n09"]}


async def test_a_failing_source_keeps_its_position_and_is_resumed_after_recovery() -> None:
    upstreams = seeded_upstreams()
    feed = Feed(upstreams)
    seen: list[str] = []
    positions: dict[str, Position] | None = None
    for call in range(200):
        upstreams["b"].fail = 2 <= call < 6
        outcome = await feed.page(6, positions)
        seen += [f"{e.source}:{e.item.execution.native_id}" for e in outcome.emitted]
        if upstreams["b"].fail:
            assert set(outcome.failures) == {"b"}
            assert outcome.has_next
            if positions is not None:
                assert outcome.end["b"] == positions["b"].dump()
        else:
            assert not outcome.failures
        if not outcome.has_next:
            break
        positions = {n: Position.load(p) for n, p in outcome.end.items()}
    assert sorted(seen) == sorted(expected(upstreams))
    assert len(seen) == len(set(seen))


async def test_while_a_source_is_down_the_feed_says_there_is_more() -> None:
    upstreams = {"a": Upstream("a", [run("a1", 1)]), "b": Upstream("b", [run("b1", 2)])}
    upstreams["b"].fail = True
    outcome = await Feed(upstreams).page(10)
    assert [e.item.execution.native_id for e in outcome.emitted] == ["a1"]
    assert outcome.has_next
    assert outcome.end == {"a": None, "b": [None, 0, None]}


async def test_a_selective_filter_stops_at_the_page_bound_and_resumes() -> None:
    items = [run(f"x{i:03d}", i) for i in range(100)]
    upstream = Upstream("x", items)

    def only_last(source: str, item: Item) -> Verdict:
        return Verdict.KEEP if item.execution.native_id == "x099" else Verdict.DROP

    feed = Feed({"x": upstream}, judge=only_last, page_size=5, max_pages=4)
    outcome = await feed.page(3)
    assert outcome.emitted == []
    assert outcome.has_next
    assert outcome.bounded
    assert upstream.calls == 4
    seen, calls = await feed.walk(3)
    assert seen == ["x:x099"]
    assert calls == 5


async def test_undecided_items_load_in_batches_of_what_the_page_needs() -> None:
    listed = [run(f"v{i:02d}", i, ExecutionStatus.RUNNING) for i in range(20)]
    waiting = {f"v{i:02d}" for i in range(0, 20, 3)} - {"v09"}
    full = {
        ("v", e.native_id): run(
            e.native_id,
            int(e.native_id[1:]),
            ExecutionStatus.WAITING_FOR_APPROVAL
            if e.native_id in waiting
            else ExecutionStatus.RUNNING,
        )
        for e in listed
        if e.native_id != "v09"  # deleted between the list and the get
    }
    waiting_filter = {ExecutionStatus.WAITING_FOR_APPROVAL}

    def judge(source: str, item: Item) -> Verdict:
        if not item.complete and status_needs_steps(item.execution, frozenset(Capability)):
            return Verdict.LOAD
        return Verdict.KEEP if item.execution.status in waiting_filter else Verdict.DROP

    feed = Feed({"v": Upstream("v", listed, complete=False)}, judge=judge, full=full)
    feed.page_size = 20
    outcome = await feed.page(2)
    assert [e.item.execution.native_id for e in outcome.emitted] == ["v00", "v03"]
    assert all(e.item.complete for e in outcome.emitted)
    assert outcome.has_next
    # first + 1 undecided items at once, then only as many as the page still needs.
    assert feed.loads == [["v00", "v01", "v02"], ["v03", "v04"], ["v05"], ["v06"]]
    seen, _ = await feed.walk(2)
    assert seen == [f"v:{n}" for n in sorted(waiting)]


async def test_the_load_bound_stops_the_walk_with_a_resumable_end() -> None:
    listed = [run(f"v{i:02d}", i, ExecutionStatus.RUNNING) for i in range(10)]
    full = {("v", e.native_id): e for e in listed}

    def judge(source: str, item: Item) -> Verdict:
        if not item.complete:
            return Verdict.LOAD
        return Verdict.DROP

    upstream = Upstream("v", listed, complete=False)
    feed = Feed({"v": upstream}, judge=judge, full=full, page_size=20, max_loads=4)
    outcome = await feed.page(1)
    assert outcome.bounded
    assert outcome.has_next
    assert outcome.emitted == []
    assert sum(len(b) for b in feed.loads) == 4
    assert outcome.end == {"v": [None, 4, "v03"]}


async def test_totals_are_the_upstreams_own_and_only_when_every_page_gives_one() -> None:
    a = Upstream("a", [run(f"a{i}", i) for i in range(7)], total=True)
    b = Upstream("b", [run(f"b{i}", i + 0.5) for i in range(4)])
    outcome = await Feed({"a": a, "b": b}).page(10)
    assert outcome.totals == {"a": 7, "b": None}


async def test_a_total_counts_only_when_every_page_gives_one_and_the_last_one_wins() -> None:
    items = [run(f"a{i}", i) for i in range(7)]
    growing = Upstream("a", items, reported_totals=[7, 8, 9])
    outcome = await Feed({"a": growing}).page(10)
    assert growing.calls == 3
    assert outcome.totals == {"a": 9}
    gap = Upstream("a", items, reported_totals=[7, None, 7])
    assert (await Feed({"a": gap}).page(10)).totals == {"a": None}


async def test_an_unbounded_page_says_it_was_not_bounded() -> None:
    outcome = await Feed(seeded_upstreams()).page(5)
    assert outcome.has_next
    assert outcome.bounded is False


def test_naive_and_offset_times_order_by_their_instant() -> None:
    """A naive time is taken as UTC; ``+02:00`` is two hours ahead of UTC."""
    naive = replace(run("naive", None), started_at=datetime(2026, 11, 1, 12, 0))
    plus_two = replace(
        run("plus-two", None),
        started_at=datetime(2026, 11, 1, 13, 0, tzinfo=timezone(timedelta(hours=2))),
    )
    utc = run("utc", 30)  # 11:30 UTC
    order = sorted([plus_two, utc, naive], key=lambda e: sort_key("s", e), reverse=True)
    assert [e.native_id for e in order] == ["naive", "utc", "plus-two"]
    assert sort_key("s", naive)[1] == datetime(2026, 11, 1, 12, 0, tzinfo=UTC)


def test_a_run_at_the_earliest_time_still_sorts_before_an_untimed_one() -> None:
    earliest = replace(run("a", None), started_at=datetime.min.replace(tzinfo=UTC))
    untimed = run("z", None)
    assert sort_key("s", earliest) > sort_key("s", untimed)


async def test_same_time_ties_between_sources_break_by_source_descending() -> None:
    upstreams = {"a": Upstream("a", [run("x", 5)]), "b": Upstream("b", [run("x", 5)])}
    outcome = await Feed(upstreams).page(2)
    assert [e.source for e in outcome.emitted] == ["b", "a"]


@pytest.mark.parametrize("complete", [True, False])
async def test_the_filter_is_told_which_source_an_item_came_from(complete: bool) -> None:
    """Listed items and, on incomplete pages, the loaded executions alike."""
    a1, b1 = run("a1", 1, ExecutionStatus.RUNNING), run("b1", 2, ExecutionStatus.RUNNING)
    upstreams = {
        "a": Upstream("a", [a1], complete=complete),
        "b": Upstream("b", [b1], complete=complete),
    }

    def only_b(source: str, item: Item) -> Verdict:
        if not item.complete:
            return Verdict.LOAD
        return Verdict.KEEP if source == "b" else Verdict.DROP

    feed = Feed(upstreams, judge=only_b, full={("a", "a1"): a1, ("b", "b1"): b1})
    outcome = await feed.page(5)
    assert [e.item.execution.native_id for e in outcome.emitted] == ["b1"]
    assert len(feed.loads) == (0 if complete else 2)


async def test_resuming_with_an_earlier_source_finished_still_reads_the_others() -> None:
    upstreams = {"a": Upstream("a", [run("a1", 1)]), "b": Upstream("b", [run("b1", 2)])}
    outcome = await Feed(upstreams).page(5, {"a": Position(exhausted=True), "b": Position()})
    assert [e.item.execution.native_id for e in outcome.emitted] == ["b1"]
    assert upstreams["a"].calls == 0
    assert outcome.has_next is False


async def test_a_complete_page_is_never_loaded_again() -> None:
    def load_incomplete(source: str, item: Item) -> Verdict:
        return Verdict.KEEP if item.complete else Verdict.LOAD

    upstream = Upstream("v", [run(f"v{i}", i, ExecutionStatus.RUNNING) for i in range(4)])
    feed = Feed({"v": upstream}, judge=load_incomplete)
    outcome = await feed.page(10)
    assert len(outcome.emitted) == 4
    assert feed.loads == []


@pytest.mark.parametrize(("length", "kept"), [(256, True), (257, False)])
async def test_a_native_id_is_kept_as_the_anchor_up_to_256_characters(
    length: int, kept: bool
) -> None:
    long_id = "n" * (length - 1) + "1"
    upstream = Upstream("n", [run(long_id, 1), run("n2", 2), run("n3", 3)])
    outcome = await Feed({"n": upstream}, page_size=3).page(1)
    assert outcome.end == {"n": [None, 1, long_id if kept else None]}


async def test_resuming_mid_page_loads_nothing_before_the_position() -> None:
    listed = [run(f"v{i:02d}", i, ExecutionStatus.RUNNING) for i in range(6)]
    full = {("v", e.native_id): e for e in listed}

    def load_incomplete(source: str, item: Item) -> Verdict:
        return Verdict.KEEP if item.complete else Verdict.LOAD

    feed = Feed(
        {"v": Upstream("v", listed, complete=False)}, judge=load_incomplete, full=full, page_size=6
    )
    outcome = await feed.page(1, {"v": Position(None, 3, "v02")})
    assert [e.item.execution.native_id for e in outcome.emitted] == ["v03"]
    assert feed.loads == [["v03", "v04"]]


async def test_the_last_allowed_load_is_still_made() -> None:
    listed = [run(f"v{i:02d}", i, ExecutionStatus.RUNNING) for i in range(10)]
    full = {("v", e.native_id): e for e in listed}

    def drop_loaded(source: str, item: Item) -> Verdict:
        return Verdict.DROP if item.complete else Verdict.LOAD

    upstream = Upstream("v", listed, complete=False)
    feed = Feed({"v": upstream}, judge=drop_loaded, full=full, page_size=20, max_loads=3)
    outcome = await feed.page(1)
    assert feed.loads == [["v00", "v01"], ["v02"]]
    assert outcome.bounded
    assert outcome.end == {"v": [None, 3, "v02"]}


async def test_a_load_that_fails_upstream_fails_the_source_at_its_head() -> None:
    listed = [run("v00", 0, ExecutionStatus.RUNNING), run("v01", 1, ExecutionStatus.RUNNING)]

    def load_incomplete(source: str, item: Item) -> Verdict:
        return Verdict.KEEP if item.complete else Verdict.LOAD

    def unavailable(source: str, native_ids: Sequence[str]) -> list[BaseException]:
        return [UpstreamUnavailable(source=source) for _ in native_ids]

    feed = Feed(
        {"v": Upstream("v", listed, complete=False)}, judge=load_incomplete, answer=unavailable
    )
    outcome = await feed.page(1)
    assert outcome.emitted == []
    assert set(outcome.failures) == {"v"}
    assert outcome.has_next
    assert outcome.end == {"v": [None, 0, None]}
    assert len(feed.loads) == 1, "a failed source is not asked again on the same call"


async def test_a_loader_that_answers_fewer_ids_than_asked_fails_loudly() -> None:
    listed = [run("v00", 0, ExecutionStatus.RUNNING), run("v01", 1, ExecutionStatus.RUNNING)]

    def load_incomplete(source: str, item: Item) -> Verdict:
        return Verdict.KEEP if item.complete else Verdict.LOAD

    def short(source: str, native_ids: Sequence[str]) -> list[Execution]:
        return listed[:1]

    feed = Feed({"v": Upstream("v", listed, complete=False)}, judge=load_incomplete, answer=short)
    with pytest.raises(ValueError, match="zip"):
        await feed.page(1)


async def test_a_loaded_execution_the_filter_cannot_decide_is_a_bug() -> None:
    listed = [run("v00", 0, ExecutionStatus.RUNNING)]

    def always_load(source: str, item: Item) -> Verdict:
        return Verdict.LOAD

    feed = Feed(
        {"v": Upstream("v", listed, complete=False)},
        judge=always_load,
        full={("v", "v00"): listed[0]},
    )
    with pytest.raises(RuntimeError, match=r"^a loaded execution must be decidable$"):
        await feed.page(1)
