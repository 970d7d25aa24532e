"""The nesting-style (Zaia Endless) executions API, simulated: seeded trees, auth, errors.

Shapes follow ``shared/upstreams/nesting.txt``; where that page is silent (the status words, the
``detail`` variants, the reply envelopes, 404s) the sandbox makes the choices recorded in
``docs/upstreams.md``: plausible status words plus one no adapter knows (``paused_by_admin``), three
``detail`` variants, bare-array replies, and Zaia's 401 body shape for every error. The list's
order is not documented either: ``list_order`` plays newest first (``"desc"``), oldest first
(``"asc"``), or what a real list looks like (``"grouped"``): roots oldest first, each followed by its
descendants, which started later (a parent's children, then theirs, each by start time), so the
start times only trend upwards.
"""

from __future__ import annotations

import random
import uuid
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any, Literal

from starlette.routing import Route

from sandbox.responses import JSONResponse
from sandbox.twins import Twin

if TYPE_CHECKING:
    from starlette.requests import Request

__all__ = [
    "DEMO_TREE_ID",
    "DEMO_TREE_IDS",
    "TWIN",
    "ListOrder",
    "NestingStore",
    "NestingsShape",
    "routes",
]


TWIN = Twin(
    kind="nesting",
    demo_name="zaia",
    credentials={"api_key": "zaia_test_sandbox"},
    headers=(("Authorization", "{api_key}"),),
    probe="GET  /api/v1/executions",
)
"""What this twin tells the demo and the banner (sandbox/twins.py)."""
ListOrder = Literal["desc", "asc", "grouped"]
"""How the list orders executions: the documents give no order, so the sandbox plays strictly
newest first, strictly oldest first, and roots oldest first each followed by its descendants."""

NestingsShape = Literal["array", "object", "single"]
"""How ``/nestings`` replies: a bare array, ``{"items": [...]}``, or the root with nested ``children``."""

DEMO_TREE_ID = "5d7c0a4e-0000-4000-8000-000000000001"
"""A completed tree three levels deep, always present: root → 3 children → 3 grandchildren."""
DEMO_TREE_IDS = tuple(f"5d7c0a4e-0000-4000-8000-{n:012d}" for n in range(1, 8))

_STATUSES = [
    "completed",
    "completed",
    "completed",
    "running",
    "failed",
    "pending",
    "cancelled",
    "timeout",
    "paused_by_admin",
]  # "paused_by_admin": a word no adapter maps
_ENDED = {"completed", "failed", "cancelled", "timeout"}
_BASE_TIME = datetime(2026, 11, 1, 12, 0, tzinfo=UTC)
_WORKSPACE_ID = "7f3e9c1a-0000-4000-8000-00000000a001"
_QUESTIONS = [
    "Where is my order?",
    "Can I change my plan?",
    "Cancel my subscription",
    "Do you ship to Lisbon?",
    "Reset my password",
]


def _iso(moment: datetime) -> str:
    return moment.isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _uuid(rng: random.Random) -> str:
    return str(uuid.UUID(int=rng.getrandbits(128), version=4))


class NestingStore:
    """Seeded executions (roots and descendants, up to three levels) behind the Zaia routes."""

    def __init__(
        self,
        *,
        seed: int,
        count: int,
        api_keys: tuple[str, ...],
        nestings_shape: NestingsShape = "array",
        list_order: ListOrder = "desc",
    ) -> None:
        self._rng = random.Random(f"nesting:{seed}")
        self.api_keys = api_keys
        self.nestings_shape: NestingsShape = nestings_shape
        self.list_order: ListOrder = list_order
        self.responders = [_uuid(self._rng) for _ in range(5)]
        self.executions: dict[str, dict[str, Any]] = {}
        self._seed_demo_tree()
        index = 1
        while len(self.executions) < count:
            self._seed_tree(index, room=count - len(self.executions))
            index += 1
        self._end_parents_after_children()

    # -- seeding -------------------------------------------------------------------------------

    def _record(
        self,
        native_id: str,
        *,
        status: str,
        started: datetime,
        parent_id: str | None,
        detail: dict[str, Any],
        credits: float,
        agentic: bool,
        purged: bool = False,
        responder: str | None = None,
    ) -> dict[str, Any]:
        ended = started + timedelta(seconds=self._rng.randint(2, 90)) if status in _ENDED else None
        record = {
            "createdAt": _iso(started - timedelta(milliseconds=self._rng.randint(5, 900))),
            "id": native_id,
            "updatedAt": _iso(ended or started + timedelta(seconds=1)),
            "creditsUsed": credits,
            "detail": {} if purged else detail,
            "endedAt": _iso(ended) if ended else None,
            "isAgentic": agentic,
            "isPurged": purged,
            "parentId": parent_id,
            "responderId": responder or self._rng.choice(self.responders),
            "startedAt": _iso(started),
            "status": status,
            "workspaceId": _WORKSPACE_ID,
        }
        self.executions[native_id] = record
        return record

    def _seed_demo_tree(self) -> None:
        root, c1, c2, c3, g1, g2, g3 = DEMO_TREE_IDS
        t0 = _BASE_TIME - timedelta(minutes=3)
        failure = {"code": "tool_error", "message": "CRM timed out"}
        plan: list[tuple[str, str, str | None, dict[str, Any]]] = [
            (
                root,
                "completed",
                None,
                {
                    "input": {"message": "Summarise yesterday's tickets"},
                    "output": {"text": "12 tickets, 3 urgent"},
                },
            ),
            (c1, "completed", root, {"input": {"query": "since yesterday"}, "output": {"n": 12}}),
            (c2, "failed", root, {"input": {"query": "urgent only"}, "error": failure}),
            (c3, "completed", root, {"messages": [{"role": "assistant", "content": "Done."}]}),
            (g1, "completed", c1, {"input": {"page": 1}, "output": {"rows": 10}}),
            (g2, "completed", c1, {"input": {"page": 2}, "output": {"rows": 2}}),  # purged below
            (g3, "failed", c2, {"messages": [{"role": "tool", "content": "ETIMEDOUT"}]}),
        ]
        for offset, (native_id, status, parent, detail) in enumerate(plan):
            self._record(
                native_id,
                status=status,
                started=t0 + timedelta(seconds=offset),
                parent_id=parent,
                detail=detail,
                credits=round(0.25 * (offset + 1), 2),
                agentic=parent in (None, root),
                purged=native_id == g2,
                responder=self.responders[offset % len(self.responders)],
            )

    def _seed_tree(self, index: int, *, room: int) -> None:
        status = _STATUSES[index % len(_STATUSES)]
        started = _BASE_TIME - timedelta(minutes=7 * index + self._rng.randint(0, 5))
        self._seed_node(status, started, parent_id=None, depth=0, room=room)

    def _seed_node(
        self, status: str, started: datetime, *, parent_id: str | None, depth: int, room: int
    ) -> int:
        """One execution and, down to the third level, its children; returns how many it made."""
        rng = self._rng
        native_id = _uuid(rng)
        self._record(
            native_id,
            status=status,
            started=started,
            parent_id=parent_id,
            detail=self._detail(status),
            credits=self._credits(status),
            agentic=rng.random() < (0.7, 0.5, 0.2)[depth],
            purged=self._purged(status),
        )
        made = 1
        if status == "pending" or depth == 2:
            return made
        wanted = rng.randint(0, 3 if depth == 0 else 2)
        for n in range(wanted):
            if made >= room:
                break
            made += self._seed_node(
                self._child_status(status, last=n == wanted - 1),
                started + timedelta(seconds=(5 if depth == 0 else 1) * n + 1),
                parent_id=native_id,
                depth=depth + 1,
                room=room - made,
            )
        return made

    def _end_parents_after_children(self) -> None:
        """A finished parent ends a second after its last child (latest starters first)."""
        for record in sorted(self.executions.values(), key=lambda e: e["startedAt"], reverse=True):
            parent = self.executions.get(record["parentId"] or "")
            if parent is None or parent["endedAt"] is None or record["endedAt"] is None:
                continue
            child_end = datetime.fromisoformat(record["endedAt"]) + timedelta(seconds=1)
            if child_end > datetime.fromisoformat(parent["endedAt"]):
                parent["endedAt"] = parent["updatedAt"] = _iso(child_end)

    @staticmethod
    def _child_status(parent: str, *, last: bool) -> str:
        """Children agree with their parent: a failed run's last child failed, and so on."""
        if parent in ("running", "paused_by_admin"):
            return "running" if last else "completed"
        if parent in ("failed", "cancelled", "timeout"):
            return parent if last else "completed"
        return "completed"

    def _detail(self, status: str) -> dict[str, Any]:
        rng = self._rng
        question = rng.choice(_QUESTIONS)
        variant = rng.randrange(3)
        if variant == 2:
            return {"messages": [{"role": "user", "content": question}]}
        detail: dict[str, Any] = {"input": {"message": question}}
        if variant == 0 and status == "completed":
            detail["output"] = {"text": f"Answer to: {question}"}
        if status == "failed":
            detail["error"] = {"code": "llm_error", "message": "The model did not answer"}
        return detail

    def _credits(self, status: str) -> float:
        return 0 if status == "pending" else round(self._rng.uniform(0.01, 5), 3)

    def _purged(self, status: str) -> bool:
        return status in _ENDED and self._rng.random() < 0.08

    # -- reading ---------------------------------------------------------------------------------

    def newest_first(self) -> list[dict[str, Any]]:
        return sorted(
            self.executions.values(), key=lambda e: (e["startedAt"], e["id"]), reverse=True
        )

    def listed(self) -> list[dict[str, Any]]:
        """Every execution in the list's order (``list_order``)."""
        newest = self.newest_first()
        if self.list_order == "grouped":
            roots = [e for e in newest[::-1] if e["parentId"] is None]
            return [member for root in roots for member in self.tree(root["id"])]
        return newest if self.list_order == "desc" else newest[::-1]

    def children_of(self, native_id: str) -> list[dict[str, Any]]:
        kids = [e for e in self.executions.values() if e["parentId"] == native_id]
        return sorted(kids, key=lambda e: (e["startedAt"], e["id"]))

    def tree(self, native_id: str) -> list[dict[str, Any]]:
        """The execution then its descendants, breadth first."""
        found = [self.executions[native_id]]
        for record in found:
            found.extend(self.children_of(record["id"]))
        return found

    def nested(self, native_id: str) -> dict[str, Any]:
        """The execution with its descendants under nested ``children`` arrays."""
        kids = [self.nested(k["id"]) for k in self.children_of(native_id)]
        return {**self.executions[native_id], "children": kids}

    def nestings_reply(self, native_id: str) -> Any:
        if self.nestings_shape == "single":
            return self.nested(native_id)
        tree = self.tree(native_id)
        return {"items": tree} if self.nestings_shape == "object" else tree


def _error(status: int, code: str, name: str, message: str) -> JSONResponse:
    """Zaia's error body (the 401 schema the docs show for the Public API)."""
    body = {
        "code": code,
        "message": message,
        "name": name,
        "cta": {"type": "support-contact", "url": "https://zaia.app/support"},
        "feedback": {"enUs": message, "esEs": message, "ptBr": message},
    }
    return JSONResponse(body, status_code=status)


def _not_found() -> JSONResponse:
    return _error(404, "not_found", "NotFoundError", "Execution not found")


def _bad_request(message: str) -> JSONResponse:
    return _error(400, "bad_request", "BadRequestError", message)


def _bounded_int(raw: str | None, default: int, low: int, high: int) -> int | None:
    if raw is None:
        return default
    try:
        value = int(raw)
    except ValueError:
        return None
    return value if low <= value <= high else None


def routes(store: NestingStore) -> list[Route]:
    """The Zaia-style endpoints over ``store``; ``/nestings`` first so it is never taken as an id."""

    def authorized(request: Request) -> bool:
        return request.headers.get("authorization", "") in store.api_keys

    def unauthorized() -> JSONResponse:
        return _error(401, "unauthorized", "UnauthorizedError", "Invalid or missing API key")

    async def list_executions(request: Request) -> JSONResponse:
        if not authorized(request):
            return unauthorized()
        page = _bounded_int(request.query_params.get("pageNumber"), 1, 1, 1_000_000)
        size = _bounded_int(request.query_params.get("pageSize"), 10, 1, 100)
        if page is None or size is None:
            return _bad_request("pageNumber must be ≥ 1 and pageSize 1..100")
        responders = {
            r for v in request.query_params.getlist("responderIds") for r in v.split(",") if r
        }
        runs = [r for r in store.listed() if not responders or r["responderId"] in responders]
        return JSONResponse(runs[(page - 1) * size : page * size])

    async def nestings(request: Request) -> JSONResponse:
        if not authorized(request):
            return unauthorized()
        native_id = request.query_params.get("executionId")
        if not native_id:
            return _bad_request("executionId is required")
        if native_id not in store.executions:
            return _not_found()
        return JSONResponse(store.nestings_reply(native_id))

    async def get_execution(request: Request) -> JSONResponse:
        if not authorized(request):
            return unauthorized()
        record = store.executions.get(request.path_params["execution_id"])
        return JSONResponse(record) if record is not None else _not_found()

    return [
        Route("/api/v1/executions", list_executions, methods=["GET"]),
        Route("/api/v1/executions/nestings", nestings, methods=["GET"]),
        Route("/api/v1/executions/{execution_id}", get_execution, methods=["GET"]),
    ]
