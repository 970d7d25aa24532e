"""The pending-approvals walk: every PENDING approval across the approval-capable sources, paged.

Knows nothing of GraphQL (``gateway/schema/pending.py`` wires it up), so the walk, its resume
positions, its bounds and its failures are tested on their own (``tests/gateway/core/test_pending.py``).

Sources are walked one after another in config order, each through its upstream list of waiting
executions, newest first. A ``PendingPosition`` names the source, the upstream's own cursor of the
page being read and how many of that page's waiting approvals were already given out, so paging
visits every waiting approval once while the data stays put. A source that fails is reported and
passed over; the others still answer.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, TypeGuard

from adapters.base import Capability
from adapters.errors import ExecutionNotFound, UpstreamError
from adapters.model import ApprovalStatus, ExecutionStatus

if TYPE_CHECKING:
    from collections.abc import Awaitable, Callable, Iterable, Mapping, Sequence

    from adapters.base import ExecutionPage
    from adapters.model import Approval, Execution

__all__ = [
    "CURSOR_KIND",
    "MAX_UPSTREAM_PAGES",
    "UPSTREAM_PAGE_SIZE",
    "PendingItem",
    "PendingPage",
    "PendingPosition",
    "PendingWalk",
    "UnknownSources",
    "approval_sources",
]

CURSOR_KIND = "pendingApprovals"
UPSTREAM_PAGE_SIZE = 50
MAX_UPSTREAM_PAGES = 20
"""Upstream list pages one call may walk before answering with what it found (and a cursor)."""

_WORTH_LOADING = (ExecutionStatus.RUNNING, ExecutionStatus.WAITING_FOR_APPROVAL)
"""A list item without its steps may wait for a human only in these statuses."""


class UnknownSources(ValueError):
    """The caller named sources that are not configured."""


def approval_sources(
    capabilities: Mapping[str, frozenset[Capability]], requested: Iterable[str] | None
) -> tuple[str, ...]:
    """The sources with approvals, in config order, narrowed to ``requested`` when given."""
    capable = tuple(name for name, caps in capabilities.items() if Capability.APPROVE in caps)
    if requested is None:
        return capable
    wanted = set(requested)
    unknown = sorted(wanted - set(capabilities))
    if unknown:
        raise UnknownSources(f"sources: unknown source(s) {', '.join(unknown)}")
    return tuple(name for name in capable if name in wanted)


@dataclass(frozen=True, slots=True)
class PendingPosition:
    """Where a walk resumes: see the module docstring."""

    sources: tuple[str, ...]
    """The sources the walk covers: a cursor is only good for the same set."""
    source_index: int = 0
    upstream_cursor: str | None = None
    offset: int = 0
    """Waiting approvals of the page at ``upstream_cursor`` already given out."""

    @property
    def done(self) -> bool:
        return self.source_index >= len(self.sources)

    def next_page(self, upstream_cursor: str | None) -> PendingPosition:
        """The start of the source's next page, or of the next source when there is none."""
        if upstream_cursor:
            return PendingPosition(self.sources, self.source_index, upstream_cursor, 0)
        return self.next_source()

    def next_source(self) -> PendingPosition:
        return PendingPosition(self.sources, self.source_index + 1, None, 0)

    def dump(self) -> dict[str, Any]:
        return {
            "sources": list(self.sources),
            "sourceIndex": self.source_index,
            "upstreamCursor": self.upstream_cursor,
            "offset": self.offset,
        }

    @classmethod
    def load(cls, state: Mapping[str, Any]) -> PendingPosition:
        """The position ``dump`` wrote; ValueError for any other shape."""
        sources, index = state.get("sources"), state.get("sourceIndex")
        upstream_cursor, offset = state.get("upstreamCursor"), state.get("offset")
        if (
            set(state) != {"sources", "sourceIndex", "upstreamCursor", "offset"}
            or not isinstance(sources, list)
            or not all(isinstance(s, str) for s in sources)
            or not _is_count(index)
            or not _is_count(offset)
            or not (upstream_cursor is None or isinstance(upstream_cursor, str))
        ):
            raise ValueError("not a pending-approvals position")
        return cls(tuple(sources), index, upstream_cursor, offset)


def _is_count(value: object) -> TypeGuard[int]:
    return isinstance(value, int) and not isinstance(value, bool) and value >= 0


@dataclass(frozen=True, slots=True)
class PendingItem:
    source: str
    execution: Execution
    approval: Approval
    after: PendingPosition
    """The position right after this item: the edge's cursor."""


@dataclass(frozen=True, slots=True)
class PendingPage:
    items: list[PendingItem]
    has_next: bool
    end: PendingPosition
    """Where the next page starts: after the last item, or further when the walk went on past
    it (pages without waiting approvals, a source that failed, the page bound)."""
    failures: dict[str, UpstreamError] = field(default_factory=dict)


class PendingWalk:
    """One page of pending approvals, walked from ``start``.

    ``list_page(source, upstream_cursor, page_size)`` fetches one page of the source's executions
    waiting for approval; ``load(source, native_ids)`` loads full executions for items a list
    gives without their steps (one result or exception per id, batched by the caller's loaders).
    One call fetches at most ``max_pages`` upstream pages; at that bound it answers with
    ``has_next`` and an ``end`` that resumes the walk. ``keep`` narrows the waiting approvals
    (``assignedToMe``); positions count only those kept, so a cursor belongs to one ``keep``.
    """

    def __init__(
        self,
        start: PendingPosition,
        *,
        list_page: Callable[[str, str | None, int], Awaitable[ExecutionPage]],
        load: Callable[[str, Sequence[str]], Awaitable[Sequence[Execution | BaseException]]],
        page_size: int = UPSTREAM_PAGE_SIZE,
        max_pages: int = MAX_UPSTREAM_PAGES,
        keep: Callable[[Approval], bool] | None = None,
    ) -> None:
        self._start = start
        self._keep = keep
        self._list_page = list_page
        self._load = load
        self._page_size = page_size
        self._max_pages = max_pages

    async def run(self, first: int) -> PendingPage:
        position = self._start
        items: list[PendingItem] = []
        failures: dict[str, UpstreamError] = {}
        pages = 0
        while not position.done:
            if pages == self._max_pages:
                # Bounded: resume from where the walk stopped, not from the last item.
                return PendingPage(items, has_next=True, end=position, failures=failures)
            source = position.sources[position.source_index]
            try:
                page = await self._list_page(source, position.upstream_cursor, self._page_size)
                executions = await self._complete(source, page)
            except UpstreamError as exc:
                failures[source] = exc
                position = position.next_source()
                continue
            pages += 1
            waiting = _waiting(executions, self._keep)
            for index in range(position.offset, len(waiting)):
                if len(items) == first:
                    return PendingPage(items, has_next=True, end=items[-1].after, failures=failures)
                execution, approval = waiting[index]
                after = PendingPosition(
                    position.sources, position.source_index, position.upstream_cursor, index + 1
                )
                items.append(PendingItem(source, execution, approval, after))
            position = position.next_page(page.next_cursor)
        return PendingPage(items, has_next=False, end=position, failures=failures)

    async def _complete(self, source: str, page: ExecutionPage) -> list[Execution]:
        """The page's items in full: as listed when complete, else loaded (those that may wait)."""
        if page.complete:
            return list(page.items)
        candidates = [i.native_id for i in page.items if i.status in _WORTH_LOADING]
        loaded: list[Execution] = []
        for result in await self._load(source, candidates):
            if isinstance(result, ExecutionNotFound):
                continue  # listed, then gone before it could be read: nothing waits there
            if isinstance(result, BaseException):
                raise result
            loaded.append(result)
        return loaded


def _waiting(
    executions: Iterable[Execution], keep: Callable[[Approval], bool] | None
) -> list[tuple[Execution, Approval]]:
    return [
        (execution, approval)
        for execution in executions
        for approval in execution.approvals
        if approval.status is ApprovalStatus.PENDING and (keep is None or keep(approval))
    ]
