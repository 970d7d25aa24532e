"""The execution feed's filter and cursor state: what a page of the merged feed includes.

GraphQL-free: ``gateway/schema/feed.py`` reads the client's filter into a ``FeedSpec``, which
checks it against the configured sources, tells the merge (``gateway/core/merge.py``) which items
to keep, drop or load, and names the filter in every cursor so a cursor is only good for it.

Filters: one status goes upstream where the API can filter (the adapter maps it, or ignores a
status it has no word for); every status filter and ``workflowId`` are applied here as well. A
list item that lacks its steps may report RUNNING for a run that waits for a human (Velt): when
the filter tells RUNNING from WAITING_FOR_APPROVAL, such items are loaded before they are judged.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from adapters.base import Capability
from adapters.model import ExecutionStatus
from gateway.core.errors import bad_user_input
from gateway.core.merge import Item, Position, Verdict, status_needs_steps
from gateway.core.scope import fingerprint

if TYPE_CHECKING:
    from collections.abc import Callable, Mapping, Sequence

    from adapters.model import Execution
    from gateway.core.scope import ClientScope

__all__ = [
    "CURSOR_KIND",
    "CURSOR_VERSION",
    "FILTERED_PAGE_SIZE",
    "MAX_FIRST",
    "MIN_PAGE_SIZE",
    "FeedSpec",
]

CURSOR_KIND = "executionFeed"
CURSOR_VERSION = 1
MAX_FIRST = 100
"""The most items one page of a connection may ask for."""
MIN_PAGE_SIZE = 20
FILTERED_PAGE_SIZE = MAX_FIRST
"""The upstream page size when the gateway filters: bigger pages, fewer round trips."""


@dataclass(frozen=True, slots=True)
class FeedSpec:
    """The filter, read and checked against the configured sources."""

    listed: tuple[str, ...]
    skipped: tuple[str, ...]
    statuses: frozenset[ExecutionStatus] | None
    workflow_id: str | None
    capabilities: dict[str, frozenset[Capability]]
    scope: ClientScope | None = None
    """The caller's scope: items of a partition out of it are dropped, like a filter's."""
    partitions: Mapping[str, Callable[[Execution], str | None]] = field(default_factory=dict)

    @classmethod
    def read(
        cls,
        configured: Mapping[str, frozenset[Capability]],
        *,
        sources: Sequence[str] | None = None,
        statuses: Sequence[ExecutionStatus] | None = None,
        workflow_id: str | None = None,
        scope: ClientScope | None = None,
        partitions: Mapping[str, Callable[[Execution], str | None]] | None = None,
    ) -> FeedSpec:
        """The filter checked against the configured sources (name: capabilities, config order)."""
        names = list(configured)
        if sources is not None:
            if not sources:
                raise bad_user_input("filter.sources: name at least one source, or leave it out")
            unknown = sorted(set(sources) - set(names))
            if unknown:
                raise bad_user_input(f"filter.sources: unknown source(s) {', '.join(unknown)}")
            names = [n for n in names if n in sources]
        if statuses is not None and not statuses:
            raise bad_user_input("filter.statuses: give at least one status, or leave it out")
        capabilities = {n: configured[n] for n in names}
        return cls(
            listed=tuple(n for n in names if Capability.LIST in capabilities[n]),
            skipped=tuple(n for n in names if Capability.LIST not in capabilities[n]),
            statuses=frozenset(statuses) if statuses is not None else None,
            workflow_id=workflow_id,
            capabilities=capabilities,
            scope=scope,
            partitions=partitions or {},
        )

    @property
    def digest(self) -> str:
        """Names the filter and the sources it lists: a cursor is only good for the same."""
        canonical = json.dumps(
            {
                "sources": self.listed,
                "statuses": sorted(s.value for s in self.statuses or ()),
                "anyStatus": self.statuses is None,
                "workflowId": self.workflow_id,
                "scope": fingerprint(self.scope),
            },
            sort_keys=True,
        )
        return hashlib.sha256(canonical.encode()).hexdigest()[:24]

    @property
    def upstream_status(self) -> ExecutionStatus | None:
        if self.statuses is not None and len(self.statuses) == 1:
            return next(iter(self.statuses))
        return None

    def page_size(self, first: int) -> int:
        if self.statuses is not None or self.workflow_id is not None or self._partial_scope:
            return FILTERED_PAGE_SIZE
        return min(MAX_FIRST, max(MIN_PAGE_SIZE, first + 1))

    @property
    def _partial_scope(self) -> bool:
        """Whether the scope names partitions of a listed source (its items are then filtered)."""
        scope = self.scope
        return scope is not None and any(scope.partitions.get(n) is not None for n in self.listed)

    def judge(self, source: str, item: Item) -> Verdict:
        execution = item.execution
        scope = self.scope
        if scope is not None and not scope.allows(
            source, execution, self.partitions.get(source, _no_partition)
        ):
            return Verdict.DROP
        if self.workflow_id is not None and (
            execution.workflow is None or execution.workflow.id != self.workflow_id
        ):
            return Verdict.DROP
        if self.statuses is None:
            return Verdict.KEEP
        if not item.complete and status_needs_steps(execution, self.capabilities[source]):
            running = ExecutionStatus.RUNNING in self.statuses
            waiting = ExecutionStatus.WAITING_FOR_APPROVAL in self.statuses
            if running != waiting:
                return Verdict.LOAD
            return Verdict.KEEP if running else Verdict.DROP
        return Verdict.KEEP if execution.status in self.statuses else Verdict.DROP

    def state(self, page_size: int, positions: dict[str, list[object] | None]) -> dict[str, object]:
        return {"v": CURSOR_VERSION, "f": self.digest, "p": page_size, "s": positions}

    def resume(self, state: dict[str, object]) -> tuple[int, dict[str, Position]]:
        not_ours = bad_user_input("after: the cursor is not one this gateway issued")
        if state.get("v") != CURSOR_VERSION or not isinstance(state.get("f"), str):
            raise not_ours
        if state["f"] != self.digest:
            raise bad_user_input(
                "after: the cursor belongs to another filter or set of sources; start again "
                "without `after` to use this filter"
            )
        page_size, positions = state.get("p"), state.get("s")
        if (
            not isinstance(page_size, int)
            or isinstance(page_size, bool)
            or not 1 <= page_size <= MAX_FIRST
            or not isinstance(positions, dict)
            or set(positions) != set(self.listed)
        ):
            raise not_ours
        try:
            return page_size, {name: Position.load(positions[name]) for name in self.listed}
        except ValueError:
            raise not_ours from None

    def total(self, totals: Mapping[str, int | None], *, failed: bool) -> int | None:
        """The whole feed's size: only unfiltered, with no failure, and a total from every source."""
        if failed or self.statuses is not None or self.workflow_id is not None:
            return None
        if set(totals) != set(self.listed):
            return None
        counts = [totals[name] for name in self.listed]
        return None if None in counts else sum(c for c in counts if c is not None)


def _no_partition(execution: Execution) -> str | None:
    return None
