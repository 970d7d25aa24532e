"""Nesting-style executions API: Zaia Endless (``/api/v1/executions``).

Docs: ``shared/upstreams/nesting.txt`` and notes §3. Quirks we bend to:
- the status enum is published empty: words are matched tolerantly, anything else is UNKNOWN with
  the word kept. ``endedAt`` is the only hard fact about finishing (null ⇒ still going), but we do
  not guess a status from it: an unknown word stays UNKNOWN, a known word stays as mapped;
- ``detail`` is an ``anyOf`` of three undocumented variants; it stays in ``raw``, and ``input`` /
  ``output`` (or ``result``) / ``error`` are surfaced where a variant has them;
- the reply envelopes are not documented: ``/nestings`` and the list are read as a bare array, an
  object holding the list under a key, or (``/nestings``) one object with nested ``children``; the
  tree is rebuilt from ``parentId``, and each child becomes a SUB_EXECUTION step of its parent;
- the list is paged by number with no documented sort order and no total: the ``list_order``
  option says how the upstream orders it (``auto``: told from page 1's overall trend, since a
  realistic list, roots oldest first each followed by its later-started children, is not
  monotonic), an oldest-first list is walked back from its last page (found by probing), and
  every page is served newest first so that callers still get newest first;
- the key goes raw in ``authorization`` (no ``Bearer``); errors are ``{code, message, name, cta,
  feedback}`` and only obvious ``code``/``name`` words are trusted over the HTTP status.
"""

from __future__ import annotations

import dataclasses
import itertools
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, Literal, get_args

from adapters._parse import (
    as_bool,
    as_decimal,
    as_dict,
    as_int,
    as_list,
    as_str,
    duration_ms_between,
    error_info,
    iso_datetime,
    normalize_word,
    require_dict,
    require_str,
)
from adapters.base import Capability, Credentials, ExecutionPage, SourceAdapter
from adapters.errors import (
    ExecutionNotFound,
    PayloadError,
    UpstreamAuthFailed,
    UpstreamError,
    UpstreamRateLimited,
    UpstreamRejected,
)
from adapters.model import (
    Cost,
    Execution,
    ExecutionStatus,
    SourceKind,
    Step,
    StepKind,
    StepStatus,
)

if TYPE_CHECKING:
    from collections.abc import Iterator, Mapping, Sequence

    from adapters.engine import SourceHTTP
    from adapters.transports import TransportResponse

__all__ = [
    "DEFAULT_LIST_ORDER",
    "EXECUTIONS_PATH",
    "EXECUTION_PATH",
    "LIST_ORDERS",
    "MAX_PAGE_SIZE",
    "NESTINGS_PATH",
    "NestingAdapter",
    "NestingOptions",
    "detect_order",
    "parse_execution",
    "parse_list",
    "parse_tree",
]

EXECUTION_PATH = "/api/v1/executions/{}"
NESTINGS_PATH = "/api/v1/executions/nestings"
EXECUTIONS_PATH = "/api/v1/executions"
MAX_PAGE_SIZE = 100
ListOrder = Literal["desc", "asc", "auto"]
"""The ``list_order`` option: the documents give the list no sort order (see list_executions)."""
LIST_ORDERS: tuple[str, ...] = get_args(ListOrder)
DEFAULT_LIST_ORDER: ListOrder = "auto"
"""With no documented order, tell it from the data: a fixed guess is wrong for some upstream."""
_NO_TIME = datetime.min.replace(tzinfo=UTC)

_LIST_KEYS = ("items", "data", "executions", "children", "results")
_TOTAL_KEYS = ("total", "totalCount")
_EXTRA_KEYS = ("responderId", "workspaceId", "isAgentic")

_EXECUTION_STATUS = {
    "pending": ExecutionStatus.PENDING,
    "queued": ExecutionStatus.PENDING,
    "created": ExecutionStatus.PENDING,
    "waiting": ExecutionStatus.PENDING,
    "scheduled": ExecutionStatus.PENDING,
    "running": ExecutionStatus.RUNNING,
    "processing": ExecutionStatus.RUNNING,
    "inprogress": ExecutionStatus.RUNNING,
    "started": ExecutionStatus.RUNNING,
    "active": ExecutionStatus.RUNNING,
    "completed": ExecutionStatus.COMPLETED,
    "complete": ExecutionStatus.COMPLETED,
    "succeeded": ExecutionStatus.COMPLETED,
    "success": ExecutionStatus.COMPLETED,
    "finished": ExecutionStatus.COMPLETED,
    "done": ExecutionStatus.COMPLETED,
    "failed": ExecutionStatus.FAILED,
    "failure": ExecutionStatus.FAILED,
    "error": ExecutionStatus.FAILED,
    "errored": ExecutionStatus.FAILED,
    "cancelled": ExecutionStatus.CANCELLED,
    "canceled": ExecutionStatus.CANCELLED,
    "aborted": ExecutionStatus.CANCELLED,
    "stopped": ExecutionStatus.CANCELLED,
    "timeout": ExecutionStatus.TIMED_OUT,
    "timedout": ExecutionStatus.TIMED_OUT,
    "expired": ExecutionStatus.TIMED_OUT,
}
"""Keys are ``normalize_word`` forms: ``in_progress`` and ``Timed-Out`` match too."""

_NO_TIME = datetime.max.replace(tzinfo=UTC)


def parse_execution(payload: Any, children: Sequence[Execution] = ()) -> Execution:
    """One execution object (single get, list item or ``/nestings`` member) → Execution (pure).

    ``children``, parsed already, become ``child_native_ids`` and one SUB_EXECUTION step each;
    only ``parse_tree`` knows them.
    """
    data = require_dict(payload, "execution")
    native_id = require_str(data, "id")
    upstream_status = as_str(data.get("status"))
    status = _EXECUTION_STATUS.get(normalize_word(upstream_status) or "", ExecutionStatus.UNKNOWN)
    detail = as_dict(data.get("detail")) or {}
    outputs = detail.get("output")
    if outputs is None:
        outputs = detail.get("result")

    started_at = iso_datetime(data.get("startedAt"))
    completed_at = iso_datetime(data.get("endedAt"))
    credits = as_decimal(data.get("creditsUsed"))
    extra: dict[str, Any] = {key: data[key] for key in _EXTRA_KEYS if key in data}

    return Execution(
        native_id=native_id,
        status=status,
        upstream_status=upstream_status,
        raw=data,
        inputs=detail.get("input"),
        outputs=outputs,
        cost=Cost(credits=credits) if credits is not None and credits >= 0 else None,
        created_at=iso_datetime(data.get("createdAt")),
        started_at=started_at,
        completed_at=completed_at,
        updated_at=iso_datetime(data.get("updatedAt")),
        duration_ms=duration_ms_between(started_at, completed_at),
        error=error_info(detail.get("error")),
        parent_native_id=as_str(data.get("parentId")) or None,
        child_native_ids=tuple(c.native_id for c in children),
        steps=tuple(_child_step(i, c) for i, c in enumerate(children)),
        is_purged=as_bool(data.get("isPurged")) or False,
        extra=extra,
    )


def parse_tree(payload: Any, root_id: str) -> list[Execution]:
    """A ``/nestings`` body → the root execution first, then every descendant of it (pure).

    Accepts a bare array, an object holding the list under a key, or one object with nested
    ``children``; rebuilds the tree from ``parentId`` (nesting stands in for a missing one).
    Members that do not descend from the root are dropped. Raises PayloadError without the root.
    """
    members: dict[str, dict[str, Any]] = {}
    for item in _members(payload):
        member_id = as_str(item.get("id"))
        if member_id:  # a member without an id cannot be placed in the tree
            members.setdefault(member_id, item)

    root_key = root_id if root_id in members else None
    if root_key is None:
        root_key = next((key for key in members if key.lower() == root_id.lower()), None)
        if root_key is None:
            raise PayloadError(f"the reply does not hold the requested execution '{root_id}'")

    children: dict[str, list[str]] = {}
    for member_id, item in members.items():
        parent = as_str(item.get("parentId")) or None
        if parent is not None and parent != member_id:
            children.setdefault(parent, []).append(member_id)
    for siblings in children.values():
        siblings.sort(key=lambda member_id: _start_order(member_id, members[member_id]))

    # Depth first, children in start order; ``seen`` guards against cycles. Each member is
    # visited after its parent, so building in reverse builds children before their parent,
    # and every Execution is constructed once, whole.
    order: list[tuple[str, list[str]]] = []
    seen: set[str] = set()
    pending = [root_key]
    while pending:
        member_id = pending.pop()
        if member_id in seen:
            continue
        seen.add(member_id)
        kids = [c for c in children.get(member_id, ()) if c not in seen]
        order.append((member_id, kids))
        pending.extend(reversed(kids))
    built: dict[str, Execution] = {}
    for member_id, kids in reversed(order):
        built[member_id] = parse_execution(members[member_id], [built[k] for k in kids])
    return [built[member_id] for member_id, _ in order]


def parse_list(payload: Any) -> tuple[tuple[Execution, ...], int | None]:
    """A list body (bare array, or an object with the list under a key) → items and total (pure)."""
    if isinstance(payload, list):
        return tuple(parse_execution(item) for item in payload), None
    data = require_dict(payload, "execution list")
    items = next((data[key] for key in _LIST_KEYS if isinstance(data.get(key), list)), None)
    if items is None:
        raise PayloadError("no list of executions in the reply")
    total = next(
        (as_int(data[key]) for key in _TOTAL_KEYS if as_int(data.get(key)) is not None), None
    )
    return tuple(parse_execution(item) for item in items), total


def _members(payload: Any) -> Iterator[dict[str, Any]]:
    """Every execution object in a ``/nestings`` body, nested ``children`` flattened."""
    if isinstance(payload, list):
        for item in payload:
            yield from _flatten(item, None)
        return
    data = require_dict(payload, "nestings reply")
    if "id" in data:
        yield from _flatten(data, None)
        return
    wrapped = as_dict(data.get("data"))
    if wrapped is not None:
        yield from _members(wrapped)
        return
    items = next((data[key] for key in _LIST_KEYS if isinstance(data.get(key), list)), None)
    if items is None:
        raise PayloadError("no executions in the nestings reply")
    yield from _members(items)


def _flatten(item: object, parent_id: str | None) -> Iterator[dict[str, Any]]:
    data = as_dict(item)
    if data is None:
        return
    nested = as_list(data.get("children"))
    member = data
    if "children" in data or (parent_id is not None and data.get("parentId") is None):
        # A copy to change: the payload itself stays as the upstream sent it.
        member = {key: value for key, value in data.items() if key != "children"}
        if parent_id is not None and member.get("parentId") is None:
            member["parentId"] = parent_id
    yield member
    own_id = as_str(member.get("id"))
    for child in nested:
        yield from _flatten(child, own_id)


def _start_order(member_id: str, item: dict[str, Any]) -> tuple[datetime, str]:
    started = iso_datetime(item.get("startedAt")) or iso_datetime(item.get("createdAt"))
    return started or _NO_TIME, member_id


def _child_step(index: int, child: Execution) -> Step:
    """A direct child, seen from its parent: one SUB_EXECUTION step."""
    return Step(
        native_id=child.native_id,
        index=index,
        name=as_str(child.extra.get("responderId")),
        kind=StepKind.SUB_EXECUTION,
        status=StepStatus[child.status.name],
        upstream_status=child.upstream_status,
        upstream_kind="agentic" if child.extra.get("isAgentic") is True else None,
        input=child.inputs,
        output=child.outputs,
        error=child.error,
        started_at=child.started_at,
        completed_at=child.completed_at,
        duration_ms=child.duration_ms,
        child_native_id=child.native_id,
    )


def _has_members(payload: Any) -> bool:
    """False for an empty reply (``[]``, ``{"items": []}``, null): the upstream knows no such id."""
    if payload is None:
        return False
    if isinstance(payload, list):
        return bool(payload)
    if isinstance(payload, dict) and "id" not in payload:
        wrapped = as_dict(payload.get("data"))
        if wrapped is not None:
            return _has_members(wrapped)
        lists = [payload[key] for key in _LIST_KEYS if isinstance(payload.get(key), list)]
        return not lists or any(lists)
    return True


# Fragments of a normalized ``code`` or ``name``, checked in order (``invalidapikey`` is auth,
# not validation).
_ERROR_WORDS: tuple[tuple[str, type[UpstreamError]], ...] = (
    ("notfound", ExecutionNotFound),
    ("unauthori", UpstreamAuthFailed),
    ("unauthenticated", UpstreamAuthFailed),
    ("apikey", UpstreamAuthFailed),
    ("forbidden", UpstreamAuthFailed),
    ("ratelimit", UpstreamRateLimited),
    ("toomanyrequests", UpstreamRateLimited),
    ("validation", UpstreamRejected),
    ("badrequest", UpstreamRejected),
)


@dataclasses.dataclass(frozen=True, slots=True)
class NestingOptions:
    list_order: ListOrder = DEFAULT_LIST_ORDER
    """The order its list's pages come in: ``desc``, ``asc``, or ``auto`` (told from the first
    page's start times). The documents do not say; the feed is newest first either way."""


class NestingAdapter(SourceAdapter):
    kind = SourceKind.NESTING
    capabilities = frozenset({Capability.GET, Capability.LIST, Capability.CHILDREN})
    actions = frozenset()  # Zaia documents no start, cancel or resume of executions
    options_type = NestingOptions
    options: NestingOptions

    @staticmethod
    def partition(execution: Execution) -> str | None:
        """A client's scope names Zaia workspaces (``workspaceId``, on every execution)."""
        workspace = execution.extra.get("workspaceId")
        return workspace if isinstance(workspace, str) else None

    def __init__(self, name: str, http: SourceHTTP, options: object | None = None) -> None:
        super().__init__(name, http, options)
        order = self.options.list_order
        if order not in LIST_ORDERS:
            raise ValueError(f"list_order must be one of {', '.join(LIST_ORDERS)}, not {order!r}")
        self._detected: str | None = None

    @staticmethod
    def auth_headers(credentials: Credentials) -> Mapping[str, str]:
        # Zaia takes the workspace key as is; a "Bearer " prefix would be part of the key.
        return {"authorization": credentials.get("api_key", "")}

    @staticmethod
    def read_error(response: TransportResponse, body: Any) -> UpstreamError | None:
        """``{code, message, name, cta, feedback}``: an obvious code/name word decides the class."""
        if not isinstance(body, dict):
            return None
        code, name = as_str(body.get("code")), as_str(body.get("name"))
        for word in (normalize_word(code), normalize_word(name)):
            for fragment, error in _ERROR_WORDS:
                if word and fragment in word:
                    return error(upstream_code=code or name)
        return None

    async def get_execution(self, native_id: str) -> Execution:
        """One execution, without its children (a single get does not list them)."""
        payload = await self.http.request_json(
            "GET", EXECUTION_PATH, native_id, native_id=native_id
        )
        return self.parsed(parse_execution, _unwrapped(payload), native_id)

    async def get_tree(self, native_id: str) -> list[Execution]:
        """The execution and all its descendants from one ``/nestings`` call."""
        payload = await self.http.request_json(
            "GET", NESTINGS_PATH, params={"executionId": native_id}, native_id=native_id
        )
        if not _has_members(payload):
            raise ExecutionNotFound(source=self.name, native_id=native_id)
        return self.parsed(lambda p: parse_tree(p, native_id), payload, native_id)

    async def list_executions(
        self, *, cursor: str | None, page_size: int, status: ExecutionStatus | None = None
    ) -> ExecutionPage:
        """One page, newest first; the API cannot filter by status, callers do.

        The documents give the list no sort order. With the option ``list_order = "desc"`` the
        upstream lists newest first and the cursor is the next page number. With ``"asc"`` it
        lists oldest first, so the adapter finds the last page (``find_last_page``) and walks
        back; the cursor is the previous page number. ``"auto"`` (the default) reads page 1,
        decides by ``detect_order`` and keeps the answer. Either way each page's items are
        sorted newest first (``_newest_first``): an upstream's order is only a trend (children
        listed after their root), and the merged feed takes each page as newest first.
        """
        size = min(max(page_size, 1), MAX_PAGE_SIZE)
        if cursor is not None:
            page = _page_number(cursor, self.name)
            auto = self.options.list_order == "auto"
            undetected = auto and self._detected is None
            probe = await self.list_page(1, size) if undetected else None
            if await self._oldest_first(probe):
                return _backwards(await self.list_page(page, size))
            return _newest_first(await self.list_page(page, size))
        first = await self.list_page(1, size)
        if not await self._oldest_first(first):
            return _newest_first(first)
        return _backwards(await self.find_last_page(size, first=first))

    async def list_page(self, page_number: int, page_size: int) -> ExecutionPage:
        """Page ``page_number`` exactly as the upstream orders it.

        ``is_last`` is True when the page holds fewer than ``page_size`` items (or a total says
        so), False when it is full and no total says otherwise: a full last page cannot be told
        from a full middle one without asking for the next.
        """
        size = min(max(page_size, 1), MAX_PAGE_SIZE)
        payload = await self.http.request_json(
            "GET", EXECUTIONS_PATH, params={"pageNumber": page_number, "pageSize": size}
        )
        items, total = self.parsed(parse_list, payload, None)
        last = len(items) < size or (total is not None and page_number * size >= total)
        return ExecutionPage(
            items=items,
            next_cursor=None if last else str(page_number + 1),
            total=total,
            complete=False,
            page_number=page_number,
            page_size=size,
            is_last=last,
        )

    async def find_last_page(
        self, page_size: int, *, first: ExecutionPage | None = None
    ) -> ExecutionPage:
        """The last non-empty page (page 1 when the list is empty), in O(log pages) calls.

        The list reply carries no total or last-page number (the documents show none), so pages
        are probed: doubling until one is not full, then bisecting for the first page that is
        not full; when that one is empty, the page before it is the last.
        """
        size = min(max(page_size, 1), MAX_PAGE_SIZE)
        page = first if first is not None else await self.list_page(1, size)
        if page.is_last:
            return page
        full, probe = page, 2  # ``full``: the highest page known to be full
        while True:
            candidate = await self.list_page(probe, size)
            if candidate.is_last:
                break
            full, probe = candidate, probe * 2
        low, high, short = (full.page_number or 1), probe, candidate
        while high - low > 1:
            middle = (low + high) // 2
            probed = await self.list_page(middle, size)
            if probed.is_last:
                high, short = middle, probed
            else:
                low, full = middle, probed
        if short.items:
            return short
        return dataclasses.replace(full, next_cursor=None, is_last=True)

    async def _oldest_first(self, first: ExecutionPage | None) -> bool:
        """Whether this upstream lists oldest first, by the ``list_order`` option."""
        order = self.options.list_order
        if order == "auto":
            if self._detected is None and first is not None and len(first.items) > 1:
                self._detected = detect_order(first.items)
            return self._detected == "asc"
        return order == "asc"


def detect_order(items: Sequence[Execution]) -> str | None:
    """``"desc"`` or ``"asc"`` by the overall trend of start times (else creation times); None
    when there is none (fewer than two distinct times, or as many pairs each way).

    The trend is Kendall's S, the pairs in rising order minus those in falling order, so a
    realistic page (roots oldest first, each followed by children that started later than the
    next root) still reads as the order it mostly is. The roots' own trend decides first when
    the page has one: children follow their root whichever way the roots are ordered.
    """
    roots = [e for e in items if e.parent_native_id is None]
    for group in (roots, items):
        trend = _trend([t for t in (_start(e) for e in group) if t is not None])
        if trend:
            return "asc" if trend > 0 else "desc"
    return None


def _trend(times: Sequence[datetime]) -> int:
    return sum((a < b) - (a > b) for a, b in itertools.combinations(times, 2))


def _start(execution: Execution) -> datetime | None:
    moment = execution.started_at or execution.created_at
    if moment is not None and moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment


def _page_number(cursor: str, source: str) -> int:
    if not (cursor.isascii() and cursor.isdigit()) or int(cursor) < 1:
        raise UpstreamRejected("the cursor is not a page number", source=source)
    return int(cursor)


def _backwards(page: ExecutionPage) -> ExecutionPage:
    """An oldest-first page served newest first: the cursor is the page before."""
    number = page.page_number or 1
    return dataclasses.replace(
        _newest_first(page), next_cursor=str(number - 1) if number > 1 else None
    )


def _newest_first(page: ExecutionPage) -> ExecutionPage:
    """The page's items newest first by start (else creation) time, untimed last, ties by id
    descending: the merged feed's own order, so a page read again comes out the same."""

    def key(execution: Execution) -> tuple[bool, datetime, str]:
        moment = _start(execution)
        return (moment is not None, moment or _NO_TIME, execution.native_id)

    return dataclasses.replace(page, items=tuple(sorted(page.items, key=key, reverse=True)))


def _unwrapped(payload: Any) -> Any:
    """A single get read tolerantly: ``{"data": {...}}`` is taken to hold the execution."""
    if isinstance(payload, dict) and "id" not in payload and isinstance(payload.get("data"), dict):
        return payload["data"]
    return payload
