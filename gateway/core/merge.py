"""The merged execution feed's engine: a k-way merge over per-source upstream streams.

Knows nothing of GraphQL (``gateway/schema/feed.py`` wires it up), so the ordering, the resume
positions, the bounds and the failure handling are tested on their own
(``tests/gateway/core/test_merge.py``).

Order: newest first by ``started_at`` (else ``created_at``; no time sorts last), ties broken by the
global id, descending, so the order is total. Each source is a *stream*: its upstream list pages in
the upstream's own order, consumed as a queue. Every step takes the greatest head among the
streams. That is the exact merged order when every upstream lists newest first by the same start
time (all three listable kinds do; the sandbox is checked for it); when one does not, its items
still come out exactly once, only not perfectly in order.

A stream's *position* is the upstream page cursor of the page being consumed, the offset of its
next item within that page, and the native id of the last item consumed from it (the *anchor*).
On resume the page is fetched again and reading restarts just after the anchor when the anchor is
on the page (so items pushed along by newer ones, or pulled back by deletions, are neither
repeated nor missed), else at the offset.
"""

from __future__ import annotations

import asyncio
import enum
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from adapters.base import Capability
from adapters.errors import ExecutionNotFound, UpstreamError
from adapters.model import ExecutionStatus
from gateway.core import ids

if TYPE_CHECKING:
    from collections.abc import Awaitable, Callable, Mapping, Sequence

    from adapters.base import ExecutionPage
    from adapters.model import Execution

__all__ = [
    "MAX_ANCHOR_LENGTH",
    "Emitted",
    "Item",
    "Merge",
    "Outcome",
    "Position",
    "SortKey",
    "Verdict",
    "sort_key",
    "status_needs_steps",
]

SortKey = tuple[bool, datetime, str]
"""(has a time, the time, the global id): the greatest comes first."""

_NO_TIME = datetime.min.replace(tzinfo=UTC)
MAX_ANCHOR_LENGTH = 256
"""A longer native id is not kept as an anchor (the cursor stays small); the offset still holds."""


def sort_key(source: str, execution: Execution) -> SortKey:
    moment = execution.started_at or execution.created_at
    global_id = ids.execution_id(source, execution.native_id)
    if moment is None:
        return (False, _NO_TIME, global_id)
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return (True, moment, global_id)


def status_needs_steps(execution: Execution, capabilities: frozenset[Capability]) -> bool:
    """Whether a list item's status may change once its steps are known.

    A source with approvals may report a run that waits for a human as plain ``running`` and leave
    the steps that say so out of its list (Velt): such a RUNNING item may really be
    WAITING_FOR_APPROVAL. Every other status, and every status of a source without approvals, is
    final as listed.
    """
    return execution.status is ExecutionStatus.RUNNING and Capability.APPROVE in capabilities


class Verdict(enum.Enum):
    KEEP = "keep"
    DROP = "drop"
    LOAD = "load"
    """Undecided until the full execution is loaded (only ever for an incomplete item)."""


@dataclass(slots=True)
class Item:
    """One listed execution; ``complete`` is False for a list item without its steps."""

    execution: Execution
    complete: bool
    verdict: Verdict | None = None


@dataclass(slots=True)
class Position:
    """Where a stream resumes: see the module docstring."""

    cursor: str | None = None
    offset: int = 0
    anchor: str | None = None
    exhausted: bool = False

    def dump(self) -> list[Any] | None:
        """The cursor form: ``[upstream cursor, offset, anchor]``, or null once exhausted."""
        return None if self.exhausted else [self.cursor, self.offset, self.anchor]

    @classmethod
    def load(cls, raw: object) -> Position:
        if raw is None:
            return cls(exhausted=True)
        if not isinstance(raw, list) or len(raw) != 3:
            raise ValueError("a position is [cursor, offset, anchor] or null")
        cursor, offset, anchor = raw
        if (
            not (cursor is None or isinstance(cursor, str))
            or not isinstance(offset, int)
            or isinstance(offset, bool)
            or offset < 0
            or not (anchor is None or isinstance(anchor, str))
        ):
            raise ValueError("a position is [cursor, offset, anchor] or null")
        return cls(cursor=cursor, offset=offset, anchor=anchor)


Snapshot = dict[str, list[Any] | None]


@dataclass(slots=True)
class Emitted:
    source: str
    item: Item
    after: Snapshot
    """Every stream's position right after this item: the edge's cursor."""


@dataclass(slots=True)
class Outcome:
    emitted: list[Emitted]
    has_next: bool
    end: Snapshot
    """Where the next page starts: the last item's positions, or further when the walk went on
    (items filtered out, a bound hit) past it."""
    failures: dict[str, UpstreamError]
    totals: dict[str, int | None]
    """Per stream that fetched a page on this call: the upstream's total, if every page gave one."""
    bounded: bool = False


@dataclass(slots=True)
class _Stream:
    name: str
    position: Position
    items: list[Item] | None = None
    next_cursor: str | None = None
    pages: int = 0
    failure: UpstreamError | None = None
    blocked: bool = False
    totals: list[int | None] = field(default_factory=list)

    @property
    def live(self) -> bool:
        return self.failure is None and not self.position.exhausted

    @property
    def head(self) -> Item | None:
        if self.items is None or self.position.offset >= len(self.items):
            return None
        return self.items[self.position.offset]

    def take(self, page: ExecutionPage) -> None:
        """A page fetched at ``position.cursor``: resume after the anchor if it is on the page."""
        self.pages += 1
        self.totals.append(page.total)
        items = [Item(e, page.complete) for e in page.items]
        start = self.position.offset
        anchor = self.position.anchor
        if anchor is not None:
            for index, item in enumerate(items):
                if item.execution.native_id == anchor:
                    start = index + 1
                    break
        self.items, self.next_cursor = items, page.next_cursor
        self.position.offset = min(start, len(items))
        self._settle_page()

    def consume(self) -> Item:
        item = self.head
        assert item is not None
        native_id = item.execution.native_id
        self.position.anchor = native_id if len(native_id) <= MAX_ANCHOR_LENGTH else None
        self.position.offset += 1
        self._settle_page()
        return item

    def _settle_page(self) -> None:
        """A page read to its end moves the position to the next page (or ends the stream)."""
        if self.items is None or self.position.offset < len(self.items):
            return
        self.items = None
        if self.next_cursor:
            self.position.cursor, self.position.offset = self.next_cursor, 0
        else:
            self.position.exhausted = True


class Merge:
    """One page of the merged feed, walked from ``positions`` (one per included source).

    ``list_page(source, cursor, page_size)`` fetches one upstream page; ``load(source, ids)``
    loads full executions (batched by the caller's loaders; one result or exception per id);
    ``judge(source, item)`` applies the filter. Per call, each stream fetches at most
    ``max_pages`` pages and all streams load at most ``max_loads`` executions to decide the
    filter; at either bound the walk stops with ``has_next`` and an ``end`` that resumes it.
    """

    def __init__(
        self,
        positions: Mapping[str, Position],
        *,
        list_page: Callable[[str, str | None, int], Awaitable[ExecutionPage]],
        load: Callable[[str, Sequence[str]], Awaitable[Sequence[Execution | BaseException]]],
        judge: Callable[[str, Item], Verdict],
        page_size: int,
        max_pages: int,
        max_loads: int,
    ) -> None:
        self._streams = [_Stream(name, position) for name, position in positions.items()]
        self._list_page = list_page
        self._load = load
        self._judge = judge
        self._page_size = page_size
        self._max_pages = max_pages
        self._loads_left = max_loads

    async def run(self, first: int) -> Outcome:
        emitted: list[Emitted] = []
        bounded = False
        while True:
            await self._settle(need=first + 1 - len(emitted))
            live = [s for s in self._streams if s.live]
            if any(s.blocked for s in live):
                bounded = True
                has_next, end = True, self._snapshot()
                break
            heads = [s for s in live if s.head is not None]
            if not heads:
                # Only a failed source may still have items: the client comes back for them.
                has_next = any(s.failure is not None for s in self._streams)
                end = self._snapshot()
                break
            if len(emitted) == first:
                has_next, end = True, emitted[-1].after
                break
            best = max(heads, key=self._head_key)
            item = best.consume()
            emitted.append(Emitted(best.name, item, self._snapshot()))
        return Outcome(
            emitted=emitted,
            has_next=has_next,
            end=end,
            failures={s.name: s.failure for s in self._streams if s.failure is not None},
            totals={
                s.name: None if None in s.totals else s.totals[-1]
                for s in self._streams
                if s.totals
            },
            bounded=bounded,
        )

    def _head_key(self, stream: _Stream) -> SortKey:
        head = stream.head
        assert head is not None
        return sort_key(stream.name, head.execution)

    def _snapshot(self) -> Snapshot:
        return {s.name: s.position.dump() for s in self._streams}

    def _verdict(self, stream: _Stream, item: Item) -> Verdict:
        if item.verdict is None:
            item.verdict = self._judge(stream.name, item)
        return item.verdict

    async def _settle(self, need: int) -> None:
        """Until every live stream has a head that passes the filter, is exhausted or is blocked."""
        while True:
            fetch: list[_Stream] = []
            load: list[_Stream] = []
            for stream in self._streams:
                while stream.live and (head := stream.head) is not None:
                    if self._verdict(stream, head) is not Verdict.DROP:
                        break
                    stream.consume()
                if not stream.live or stream.blocked:
                    continue
                head = stream.head
                if head is None:
                    if stream.pages >= self._max_pages:
                        stream.blocked = True
                    else:
                        fetch.append(stream)
                elif head.verdict is Verdict.LOAD:
                    if self._loads_left <= 0:
                        stream.blocked = True
                    else:
                        load.append(stream)
            if any(s.blocked for s in self._streams if s.live) or not (fetch or load):
                return
            await asyncio.gather(
                *(self._fetch(s) for s in fetch), *(self._load_ahead(s, need) for s in load)
            )

    async def _fetch(self, stream: _Stream) -> None:
        try:
            page = await self._list_page(stream.name, stream.position.cursor, self._page_size)
        except UpstreamError as exc:
            stream.failure = exc
            return
        stream.take(page)

    async def _load_ahead(self, stream: _Stream, need: int) -> None:
        """Load the head and the next undecided items of its page (at most ``need``), at once."""
        assert stream.items is not None
        wanted = [
            index
            for index in range(stream.position.offset, len(stream.items))
            if self._verdict(stream, stream.items[index]) is Verdict.LOAD
        ][: max(1, min(need, self._loads_left))]
        self._loads_left -= len(wanted)
        native_ids = [stream.items[i].execution.native_id for i in wanted]
        results = await self._load(stream.name, native_ids)
        for index, result in zip(wanted, results, strict=True):
            if isinstance(result, ExecutionNotFound):
                # Listed, then gone before we could read it: nothing to show.
                stream.items[index].verdict = Verdict.DROP
            elif isinstance(result, UpstreamError):
                # The head cannot be decided: the source fails here and resumes here.
                stream.failure = result
                return
            elif isinstance(result, BaseException):
                raise result
            else:
                item = Item(result, complete=True)
                item.verdict = self._judge(stream.name, item)
                if item.verdict is Verdict.LOAD:
                    raise RuntimeError("a loaded execution must be decidable")
                stream.items[index] = item
