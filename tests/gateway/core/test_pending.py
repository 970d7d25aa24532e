"""The pending-approvals walk (gateway/core/pending.py) over fake upstreams, without GraphQL."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import pytest

from adapters.base import Capability, ExecutionPage
from adapters.errors import ExecutionNotFound, UpstreamAuthFailed, UpstreamUnavailable
from adapters.model import Approval, ApprovalStatus, Execution, ExecutionStatus
from gateway.core.cursors import CursorCodec, InvalidCursor
from gateway.core.pending import (
    CURSOR_KIND,
    PendingPage,
    PendingPosition,
    PendingWalk,
    UnknownSources,
    approval_sources,
)

if TYPE_CHECKING:
    from collections.abc import Sequence

PENDING = ApprovalStatus.PENDING
WAITING = ExecutionStatus.WAITING_FOR_APPROVAL


def run(
    native_id: str,
    *approvals: ApprovalStatus,
    status: ExecutionStatus = WAITING,
) -> Execution:
    """An execution with one approval per status given, keyed ``a0``, ``a1``…"""
    return Execution(
        native_id=native_id,
        status=status,
        upstream_status=status.value.lower(),
        raw={"id": native_id},
        approvals=tuple(Approval(key=f"a{i}", status=s) for i, s in enumerate(approvals)),
    )


@dataclass
class Upstream:
    """A list API over ``items`` in its own order, with id cursors."""

    name: str
    items: list[Execution]
    complete: bool = True
    fail: BaseException | None = None
    full: dict[str, Execution | BaseException] = field(default_factory=dict)
    """What a load of a native id gives (incomplete lists only)."""
    list_calls: int = 0
    loaded: list[str] = field(default_factory=list)

    async def page(self, cursor: str | None, size: int) -> ExecutionPage:
        self.list_calls += 1
        if self.fail is not None:
            raise self.fail
        native_ids = [e.native_id for e in self.items]
        start = 0 if cursor is None else native_ids.index(cursor) + 1
        chunk = self.items[start : start + size]
        more = start + size < len(self.items)
        return ExecutionPage(
            items=tuple(chunk),
            next_cursor=chunk[-1].native_id if more else None,
            complete=self.complete,
        )

    async def load(self, native_ids: Sequence[str]) -> list[Execution | BaseException]:
        self.loaded += native_ids
        return [self.full[n] for n in native_ids]


@dataclass
class Walk:
    upstreams: dict[str, Upstream]
    page_size: int = 3
    max_pages: int = 20

    @property
    def sources(self) -> tuple[str, ...]:
        return tuple(self.upstreams)

    async def page(self, first: int, start: PendingPosition | None = None) -> PendingPage:
        async def list_page(source: str, cursor: str | None, size: int) -> ExecutionPage:
            return await self.upstreams[source].page(cursor, size)

        async def load(source: str, ids: Sequence[str]) -> list[Execution | BaseException]:
            return await self.upstreams[source].load(ids)

        walk = PendingWalk(
            start or PendingPosition(self.sources),
            list_page=list_page,
            load=load,
            page_size=self.page_size,
            max_pages=self.max_pages,
        )
        return await walk.run(first)

    async def all(self, first: int) -> list[tuple[str, str, str]]:
        """Every page to the end, each resumed through a signed cursor: (source, id, key)."""
        codec = CursorCodec(b"k" * 32)
        seen: list[tuple[str, str, str]] = []
        start = None
        for _ in range(200):
            page = await self.page(first, start)
            assert len(page.items) <= first
            seen += [(i.source, i.execution.native_id, i.approval.key) for i in page.items]
            if not page.has_next:
                return seen
            cursor = codec.encode(CURSOR_KIND, page.end.dump())
            start = codec.decode_as(CURSOR_KIND, cursor, PendingPosition.load)
        raise AssertionError("the walk did not end")


def two_sources() -> dict[str, Upstream]:
    decided = ApprovalStatus.APPROVED
    return {
        "rv": Upstream(
            "rv",
            [
                run("r1", PENDING),
                run("r2", decided, status=ExecutionStatus.COMPLETED),
                run("r3", PENDING),
                run("r4"),
                run("r5", PENDING),
            ],
        ),
        "velt": Upstream(
            "velt",
            [run("v1", PENDING, decided, PENDING), run("v2", decided), run("v3", PENDING)],
        ),
    }


EVERY_PENDING = [
    ("rv", "r1", "a0"),
    ("rv", "r3", "a0"),
    ("rv", "r5", "a0"),
    ("velt", "v1", "a0"),
    ("velt", "v1", "a2"),
    ("velt", "v3", "a0"),
]


@pytest.mark.parametrize("first", [1, 2, 4, 6, 100])
async def test_paging_gives_every_pending_approval_once_in_source_order(first: int) -> None:
    walk = Walk(two_sources(), page_size=2)
    assert await walk.all(first) == EVERY_PENDING


async def test_has_next_is_exact_when_the_last_page_is_full() -> None:
    walk = Walk(two_sources(), page_size=2)
    page = await walk.page(len(EVERY_PENDING))
    assert len(page.items) == len(EVERY_PENDING)
    assert page.has_next is False
    assert page.end.done


async def test_a_page_ending_mid_upstream_page_resumes_inside_it() -> None:
    walk = Walk(two_sources(), page_size=5)
    page = await walk.page(2)
    assert [(i.execution.native_id, i.approval.key) for i in page.items] == [
        ("r1", "a0"),
        ("r3", "a0"),
    ]
    assert page.has_next is True
    assert page.end == PendingPosition(("rv", "velt"), 0, None, 2)
    rest = await walk.page(100, page.end)
    assert [(i.source, i.execution.native_id, i.approval.key) for i in rest.items] == (
        EVERY_PENDING[2:]
    )
    assert walk.upstreams["rv"].list_calls == 2  # the first page read again on resume


async def test_the_page_bound_stops_the_walk_and_the_end_resumes_it() -> None:
    quiet = [
        run(f"q{i}", ApprovalStatus.APPROVED, status=ExecutionStatus.COMPLETED) for i in range(9)
    ]
    upstream = Upstream("rv", [*quiet, run("late", PENDING)])
    walk = Walk({"rv": upstream}, page_size=2, max_pages=3)
    page = await walk.page(5)
    assert page.items == []
    assert page.has_next is True
    assert page.end == PendingPosition(("rv",), 0, "q5", 0)
    assert upstream.list_calls == 3
    rest = await walk.page(5, page.end)
    assert [i.execution.native_id for i in rest.items] == ["late"]
    assert rest.has_next is False
    assert upstream.list_calls == 5


async def test_a_failing_source_is_reported_and_the_others_answer() -> None:
    upstreams = two_sources()
    refused = UpstreamAuthFailed(source="rv", http_status=401)
    upstreams["rv"].fail = refused
    page = await Walk(upstreams).page(10)
    assert page.failures == {"rv": refused}
    assert [(i.source, i.execution.native_id) for i in page.items] == [
        ("velt", "v1"),
        ("velt", "v1"),
        ("velt", "v3"),
    ]
    assert page.has_next is False
    assert upstreams["rv"].list_calls == 1


async def test_incomplete_items_are_loaded_only_when_they_may_wait() -> None:
    listed = [
        run("v1", status=ExecutionStatus.RUNNING),
        run("v2", status=ExecutionStatus.COMPLETED),
        run("v3", status=ExecutionStatus.RUNNING),
        run("v4", status=ExecutionStatus.RUNNING),
    ]
    upstream = Upstream(
        "velt",
        listed,
        complete=False,
        full={
            "v1": run("v1", PENDING),
            "v3": ExecutionNotFound(source="velt", http_status=404),
            "v4": run("v4", status=ExecutionStatus.RUNNING),
        },
    )
    page = await Walk({"velt": upstream}, page_size=10).page(10)
    assert upstream.loaded == ["v1", "v3", "v4"]
    assert [(i.execution.native_id, i.approval.key) for i in page.items] == [("v1", "a0")]
    assert page.failures == {}


async def test_a_load_that_fails_fails_its_source() -> None:
    down = UpstreamUnavailable(source="velt", http_status=503)
    upstream = Upstream(
        "velt", [run("v1", status=ExecutionStatus.RUNNING)], complete=False, full={"v1": down}
    )
    page = await Walk({"velt": upstream}).page(10)
    assert page.failures == {"velt": down}
    assert page.items == []


async def test_no_sources_is_an_empty_last_page() -> None:
    page = await Walk({}).page(5)
    assert (page.items, page.has_next, page.end.done) == ([], False, True)


def test_approval_sources_keep_config_order_and_refuse_unknown_names() -> None:
    capabilities = {
        "rv": frozenset({Capability.APPROVE, Capability.LIST}),
        "zaia": frozenset({Capability.LIST}),
        "velt": frozenset({Capability.APPROVE}),
    }
    assert approval_sources(capabilities, None) == ("rv", "velt")
    assert approval_sources(capabilities, ["velt", "zaia"]) == ("velt",)
    with pytest.raises(UnknownSources, match="nope"):
        approval_sources(capabilities, ["rv", "nope"])


def test_a_position_survives_the_signed_cursor_and_other_shapes_are_refused() -> None:
    codec = CursorCodec(b"k" * 32)
    position = PendingPosition(("rv", "velt"), 1, "page-7", 3)
    cursor = codec.encode(CURSOR_KIND, position.dump())
    assert codec.decode_as(CURSOR_KIND, cursor, PendingPosition.load) == position
    good = position.dump()
    bad: list[dict[str, Any]] = [
        {**good, "sourceIndex": True},
        {**good, "offset": -1},
        {**good, "upstreamCursor": 7},
        {**good, "sources": "rv"},
        {**good, "extra": 1},
        {k: v for k, v in good.items() if k != "offset"},
    ]
    for state in bad:
        with pytest.raises(InvalidCursor):
            codec.decode_as(CURSOR_KIND, codec.encode(CURSOR_KIND, state), PendingPosition.load)
    with pytest.raises(InvalidCursor):
        codec.decode_as("executionFeed", cursor, PendingPosition.load)
