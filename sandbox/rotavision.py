"""The Rotavision-style Orchestrate API, simulated: seeded executions, auth, errors, approvals.

Shapes follow ``shared/upstreams/rotavision.txt``; where that page is silent (failed, cancelled
and timed-out runs, the list, approve and cancel replies, 409 on a decided run) the sandbox makes
the choice recorded in ``docs/upstreams.md``. Runs started with ``POST /workflows/{id}/run`` (202,
the documented reply) move on with ``sandbox.progress``: a step, then the workflow's human step
(``waiting_approval``), then done once decided; a cancel ends a live run ``cancelled`` and is a
no-op (200, the run as it is) on a finished one.
"""

from __future__ import annotations

import copy
import json
import random
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

from starlette.routing import Route

from sandbox.responses import JSONResponse
from sandbox.twins import Twin

if TYPE_CHECKING:
    from starlette.requests import Request

__all__ = [
    "AGENT_TYPES",
    "DEMO_ASKED_TWICE_ID",
    "DEMO_WAITING_ID",
    "DOC_EXAMPLE_ID",
    "TWIN",
    "RotavisionStore",
    "routes",
]


TWIN = Twin(
    kind="rotavision",
    demo_name="rv",
    credentials={"api_key": "rv_test_sandbox"},
    headers=(("Authorization", "Bearer {api_key}"),),
    probe="GET  /v1/orchestrate/executions",
    webhook_header="X-Rotavision-Signature",
    webhook_secret="whsec_sandbox_rotavision",  # noqa: S106 (the sandbox's published test secret)
    showcase_options={"step_kinds_from_workflow": True},
)
"""What this twin tells the demo and the banner (sandbox/twins.py)."""
DOC_EXAMPLE_ID = "exec_xyz789"
DEMO_WAITING_ID = "exec_wait0001"
DEMO_ASKED_TWICE_ID = "exec_twice0001"
"""Asks the same human step twice: ``escalation`` approved earlier, then waiting on it again."""

_AGENTS = ["classifier", "retriever", "summarizer", "escalation", "responder", "auditor"]
_WORKFLOWS = {
    "Customer Support Triage": "wf_support_triage",
    "Invoice Review": "wf_invoice_review",
    "Lead Scoring": "wf_lead_scoring",
}
# The workflow definition's agents[].type for each agent id (the only place the API names kinds).
AGENT_TYPES = {
    "classifier": "llm",
    "retriever": "search",
    "summarizer": "llm",
    "escalation": "human",
    "responder": "llm",
    "auditor": "code",
    "approver": "human",
}
_STATUSES = [
    "completed",
    "completed",
    "completed",
    "running",
    "waiting_approval",
    "failed",
    "cancelled",
    "timeout",
    "queued",
    "paused",
]  # "paused": a word the adapter can't map
_BASE_TIME = datetime(2026, 11, 1, 12, 0, tzinfo=UTC)

_DOC_EXAMPLE: dict[str, Any] = {
    "id": DOC_EXAMPLE_ID,
    "workflow_id": "wf_abc123",
    "workflow_name": "Customer Support Triage",
    "status": "completed",
    "inputs": {"ticket": "I have been waiting for my refund for 2 weeks. Order #12345."},
    "outputs": {"category": "refund", "priority": "high", "response": "Dear Customer..."},
    "steps": [
        {
            "id": "step_1",
            "agent": "classifier",
            "status": "completed",
            "output": {"category": "refund", "priority": "high", "sentiment": "frustrated"},
            "duration_ms": 450,
        },
        {
            "id": "step_2",
            "agent": "escalation",
            "status": "completed",
            "output": {
                "approved": True,
                "approved_by": "lead@example.com",
                "notes": "Approve - customer has valid complaint",
            },
            "duration_ms": 125000,
        },
        {
            "id": "step_3",
            "agent": "responder",
            "status": "completed",
            "output": {"response": "Dear Customer..."},
            "duration_ms": 1200,
        },
    ],
    "cost": {"usd": 0.012, "inr": 1.00},
    "duration_ms": 126650,
    "created_at": "2026-02-01T10:30:00Z",
    "completed_at": "2026-02-01T10:32:07Z",
}


_ASKED_TWICE: dict[str, Any] = {
    "id": DEMO_ASKED_TWICE_ID,
    "workflow_id": "wf_support_triage",
    "workflow_name": "Customer Support Triage",
    "status": "waiting_approval",
    "inputs": {"ticket": "Refund of INR 40,000 for order #77812, then a goodwill credit"},
    "steps": [
        {
            "id": "step_1",
            "agent": "classifier",
            "status": "completed",
            "output": {"category": "refund", "priority": "high", "sentiment": "frustrated"},
            "duration_ms": 430,
        },
        {
            "id": "step_2",
            "agent": "escalation",
            "status": "completed",
            "output": {
                "approved": True,
                "approved_by": "lead@example.com",
                "notes": "Refund approved",
            },
            "duration_ms": 94000,
        },
        {
            "id": "step_3",
            "agent": "responder",
            "status": "completed",
            "output": {"response": "Your refund is on its way."},
            "duration_ms": 1100,
        },
    ],
    "current_step": "escalation",
    "waiting_for": {
        "type": "human_approval",
        "assignees": ["lead@example.com", "ops@example.com"],
        "message": "Goodwill credit of INR 500 on top of the refund: approve?",
        "context": {"amount_inr": 500},
    },
    "approve_url": f"https://app.rotavision.example/executions/{DEMO_ASKED_TWICE_ID}",
    "created_at": "2026-11-01T12:00:30Z",
}


def _iso(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


def _execution(rng: random.Random, index: int, status: str, native_id: str) -> dict[str, Any]:
    created = _BASE_TIME - timedelta(minutes=7 * index + rng.randint(0, 5))
    agents = rng.sample(_AGENTS, rng.randint(1, 6))
    rng.randrange(16**6)  # an old per-run workflow id draw, kept so seeded ids stay stable
    workflow_name = rng.choice(list(_WORKFLOWS))
    run: dict[str, Any] = {
        "id": native_id,
        "workflow_id": _WORKFLOWS[workflow_name],
        "workflow_name": workflow_name,
        "status": status,
        "inputs": {"ticket": f"Ticket #{1000 + index}"},
        "created_at": _iso(created),
    }
    if status == "waiting_approval":
        done = agents[: max(0, len(agents) - 1)]
        human = "escalation" if "escalation" not in done else "approver"
        run["steps"] = [_step(rng, n, agent, "completed") for n, agent in enumerate(done)]
        run["current_step"] = human
        run["waiting_for"] = {
            "type": "human_approval",
            "assignees": ["lead@example.com", "ops@example.com"],
            "message": f"Refund over limit for ticket #{1000 + index}: approve?",
            "context": {"amount_inr": 1000 + 37 * index},
        }
        run["approve_url"] = f"https://app.rotavision.example/executions/{native_id}"
        run["updated_at"] = _iso(created + timedelta(seconds=30))
        return run
    if status in ("queued",):
        run["steps"] = []
        return run
    steps = []
    for n, agent in enumerate(agents):
        last = n == len(agents) - 1
        step_status = "completed"
        if last and status in ("running", "paused"):
            step_status = "running"
        elif last and status in ("failed", "timeout", "cancelled"):
            step_status = {"failed": "failed", "timeout": "timeout", "cancelled": "cancelled"}[
                status
            ]
        steps.append(_step(rng, n, agent, step_status))
    run["steps"] = steps
    spent = sum(s.get("duration_ms", 0) for s in steps)
    run["cost"] = {
        "usd": round(0.001 * len(steps) + rng.random() / 100, 4),
        "inr": round(0.09 * len(steps) + rng.random(), 2),
    }
    if status in ("completed", "failed", "cancelled", "timeout"):
        run["duration_ms"] = spent
        run["completed_at"] = _iso(created + timedelta(milliseconds=spent))
        if status == "completed":
            run["outputs"] = {"result": f"done #{index}"}
        elif status == "failed":
            run["error"] = {"code": "agent_error", "message": f"{agents[-1]} raised an exception"}
    return run


def _step(rng: random.Random, n: int, agent: str, status: str) -> dict[str, Any]:
    step: dict[str, Any] = {"id": f"step_{n + 1}", "agent": agent, "status": status}
    if agent == "escalation" and status == "completed":
        approved = rng.random() < 0.8
        step["output"] = {
            "approved": approved,
            "approved_by": "lead@example.com",
            "notes": "ok" if approved else "not eligible",
        }
    elif status == "completed":
        step["output"] = {"summary": f"{agent} finished"}
    if status == "failed":
        step["error"] = {"code": "agent_error", "message": f"{agent} raised an exception"}
    if status != "running":
        step["duration_ms"] = rng.randint(100, 5000)
    return step


class RotavisionStore:
    """Seeded executions plus the decisions recorded on them."""

    def __init__(self, *, seed: int, count: int, api_keys: tuple[str, ...]) -> None:
        rng = random.Random(f"rotavision:{seed}")
        self.api_keys = api_keys
        self.executions: dict[str, dict[str, Any]] = {DOC_EXAMPLE_ID: copy.deepcopy(_DOC_EXAMPLE)}
        waiting = _execution(rng, 0, "waiting_approval", DEMO_WAITING_ID)
        self.executions[DEMO_WAITING_ID] = waiting
        self.executions[DEMO_ASKED_TWICE_ID] = copy.deepcopy(_ASKED_TWICE)
        for index in range(1, count - 2):
            native_id = f"exec_{rng.randrange(16**8):08x}"
            self.executions[native_id] = _execution(
                rng, index, _STATUSES[index % len(_STATUSES)], native_id
            )
        self.idempotent_replies: dict[str, tuple[int, dict[str, Any]]] = {}
        self.workflows = self._definitions()
        self.started: list[str] = []
        """Runs started through the API, oldest first: ``sandbox.progress`` moves them first."""

    def start(self, workflow_id: str, inputs: dict[str, Any]) -> dict[str, Any]:
        """A new running execution of ``workflow_id`` (as the 202 reply shows it)."""
        definition = self.workflows[workflow_id]
        native_id = f"exec_run{len(self.started) + 1:04d}{len(self.executions):04x}"
        agents = [a["id"] for a in definition["agents"]]
        run: dict[str, Any] = {
            "id": native_id,
            "workflow_id": workflow_id,
            "workflow_name": definition["name"],
            "status": "running",
            "current_step": agents[0] if agents else None,
            "progress": {"completed": 0, "total": len(agents)},
            "inputs": inputs,
            "steps": [],
            "created_at": _iso(datetime.now(UTC)),
        }
        self.executions[native_id] = run
        self.started.append(native_id)
        return run

    def ask_human(self, native_id: str) -> bool:
        """Move a started run to its workflow's human step (once); False when there is none to
        ask or it was asked already, so the run can simply finish."""
        run = self.executions.get(native_id)
        if run is None or native_id not in self.started or run.get("status") != "running":
            return False
        if any(_is_human(s.get("agent")) for s in run.get("steps", [])):
            return False
        definition = self.workflows.get(run["workflow_id"], {})
        human = next((a["id"] for a in definition.get("agents", []) if a["type"] == "human"), None)
        if human is None:
            return False
        first = next((a["id"] for a in definition["agents"] if a["type"] != "human"), None)
        steps = run.setdefault("steps", [])
        if first is not None:
            steps.append(
                {
                    "id": f"step_{len(steps) + 1}",
                    "agent": first,
                    "status": "completed",
                    "output": {"summary": f"{first} finished"},
                    "duration_ms": 700,
                }
            )
        run.pop("progress", None)
        now = datetime.now(UTC)
        run.update(
            status="waiting_approval",
            current_step=human,
            waiting_for={
                "type": "human_approval",
                "assignees": ["lead@example.com", "ops@example.com"],
                "message": f"Run {native_id} asks for approval: approve?",
                "context": {"inputs": run.get("inputs")},
            },
            approve_url=f"https://app.rotavision.example/executions/{native_id}",
            updated_at=_iso(now),
        )
        return True

    def _definitions(self) -> dict[str, dict[str, Any]]:
        """One definition per workflow the executions name, listing every agent they use."""
        agents: dict[str, set[str]] = {}
        names: dict[str, str] = {}
        for run in self.executions.values():
            used = agents.setdefault(run["workflow_id"], set())
            names[run["workflow_id"]] = run.get("workflow_name", "")
            used.update(s["agent"] for s in run.get("steps", []))
            if run.get("current_step"):
                used.add(run["current_step"])
        return {
            workflow_id: {
                "id": workflow_id,
                "name": names[workflow_id],
                "status": "active",
                "version": 1,
                "agents": [{"id": a, "type": AGENT_TYPES.get(a, "llm")} for a in sorted(used)],
                "created_at": "2026-01-15T09:00:00Z",
            }
            for workflow_id, used in agents.items()
        }

    def newest_first(self) -> list[dict[str, Any]]:
        return sorted(
            self.executions.values(), key=lambda e: (e["created_at"], e["id"]), reverse=True
        )


def _error(status: int, code: str, kind: str, message: str) -> JSONResponse:
    body = {"error": {"code": code, "message": message, "type": kind, "request_id": "req_sandbox"}}
    return JSONResponse(body, status_code=status, headers={"x-request-id": "req_sandbox"})


def _authorized(store: RotavisionStore, request: Request) -> bool:
    header = request.headers.get("authorization", "")
    return header.startswith("Bearer ") and header[7:] in store.api_keys


def routes(store: RotavisionStore) -> list[Route]:
    """The Rotavision-style endpoints over ``store``."""

    def unauthorized() -> JSONResponse:
        return _error(401, "invalid_api_key", "authentication_error", "Invalid API key provided")

    async def get_execution(request: Request) -> JSONResponse:
        if not _authorized(store, request):
            return unauthorized()
        native_id = request.path_params["execution_id"]
        run = store.executions.get(native_id)
        if run is None:
            return _error(404, "execution_not_found", "not_found_error", "No such execution")
        return JSONResponse(run)

    async def get_workflow(request: Request) -> JSONResponse:
        if not _authorized(store, request):
            return unauthorized()
        definition = store.workflows.get(request.path_params["workflow_id"])
        if definition is None:
            return _error(404, "workflow_not_found", "not_found_error", "No such workflow")
        return JSONResponse(definition)

    async def list_executions(request: Request) -> JSONResponse:
        if not _authorized(store, request):
            return unauthorized()
        try:
            limit = int(request.query_params.get("limit", "20"))
        except ValueError:
            limit = -1
        if not 1 <= limit <= 100:
            return _error(400, "invalid_request", "validation_error", "limit must be 1..100")
        status = request.query_params.get("status")
        runs = [r for r in store.newest_first() if status is None or r["status"] == status]
        cursor = request.query_params.get("cursor")
        if cursor:
            ids = [r["id"] for r in runs]
            if cursor not in ids:
                return _error(400, "invalid_cursor", "validation_error", "Unknown cursor")
            runs = runs[ids.index(cursor) + 1 :]
        page = runs[:limit]
        has_more = len(runs) > limit
        return JSONResponse(
            {
                "data": page,
                "has_more": has_more,
                "next_cursor": page[-1]["id"] if has_more else None,
            }
        )

    async def approve(request: Request) -> JSONResponse:
        if not _authorized(store, request):
            return unauthorized()
        key = request.headers.get("idempotency-key")
        if key and key in store.idempotent_replies:
            status_code, reply = store.idempotent_replies[key]
            return JSONResponse(
                reply, status_code=status_code, headers={"idempotent-replayed": "true"}
            )
        native_id = request.path_params["execution_id"]
        run = store.executions.get(native_id)
        if run is None:
            return _error(404, "execution_not_found", "not_found_error", "No such execution")
        try:
            body = json.loads(await request.body())
            approved = body["approved"]
            notes = body.get("notes")
        except (ValueError, KeyError, TypeError):
            return _error(
                400, "invalid_request", "validation_error", "Body must be {approved, notes}"
            )
        if not isinstance(approved, bool) or not (notes is None or isinstance(notes, str)):
            return _error(
                400, "invalid_request", "validation_error", "Body must be {approved, notes}"
            )
        if run["status"] != "waiting_approval":
            return _error(
                409,
                "execution_not_waiting",
                "invalid_request_error",
                "Execution is not waiting for approval",
            )
        _decide(run, approved=approved, notes=notes, by=request.headers.get("x-on-behalf-of"))
        reply = {"id": native_id, "status": run["status"], "approved": approved}
        if key:
            store.idempotent_replies[key] = (200, reply)
        return JSONResponse(reply)

    def replayed(request: Request) -> JSONResponse | None:
        key = request.headers.get("idempotency-key")
        if key and key in store.idempotent_replies:
            status_code, reply = store.idempotent_replies[key]
            return JSONResponse(
                reply, status_code=status_code, headers={"idempotent-replayed": "true"}
            )
        return None

    async def run_workflow(request: Request) -> JSONResponse:
        if not _authorized(store, request):
            return unauthorized()
        if (replay := replayed(request)) is not None:
            return replay
        workflow_id = request.path_params["workflow_id"]
        if workflow_id not in store.workflows:
            return _error(404, "workflow_not_found", "not_found_error", "No such workflow")
        try:
            body = json.loads(await request.body())
            inputs = body["inputs"]
        except (ValueError, KeyError, TypeError):
            inputs = None
        if not isinstance(inputs, dict):
            return _error(
                400, "invalid_request", "validation_error", "Body must be {inputs, config?}"
            )
        run = store.start(workflow_id, inputs)
        reply = {k: run[k] for k in ("id", "workflow_id", "status", "current_step", "progress")}
        reply.update(inputs=run["inputs"], created_at=run["created_at"])
        key = request.headers.get("idempotency-key")
        if key:
            store.idempotent_replies[key] = (202, reply)
        return JSONResponse(reply, status_code=202)

    async def cancel(request: Request) -> JSONResponse:
        if not _authorized(store, request):
            return unauthorized()
        native_id = request.path_params["execution_id"]
        run = store.executions.get(native_id)
        if run is None:
            return _error(404, "execution_not_found", "not_found_error", "No such execution")
        if run["status"] not in _FINISHED:
            now = _iso(datetime.now(UTC))
            for step in run.get("steps", []):
                if step.get("status") in ("running", "pending"):
                    step["status"] = "cancelled"
            for key in ("current_step", "waiting_for", "approve_url", "progress"):
                run.pop(key, None)
            run.update(status="cancelled", completed_at=now, updated_at=now)
        return JSONResponse({"id": native_id, "status": run["status"]})

    return [
        Route("/v1/orchestrate/workflows/{workflow_id}/run", run_workflow, methods=["POST"]),
        Route("/v1/orchestrate/executions/{execution_id}/cancel", cancel, methods=["POST"]),
        Route("/v1/orchestrate/executions", list_executions, methods=["GET"]),
        Route("/v1/orchestrate/workflows/{workflow_id}", get_workflow, methods=["GET"]),
        Route("/v1/orchestrate/executions/{execution_id}", get_execution, methods=["GET"]),
        Route("/v1/orchestrate/executions/{execution_id}/approve", approve, methods=["POST"]),
    ]


_FINISHED = frozenset({"completed", "failed", "cancelled", "timeout"})


def _is_human(agent: object) -> bool:
    return isinstance(agent, str) and AGENT_TYPES.get(agent) == "human"


def _decide(run: dict[str, Any], *, approved: bool, notes: str | None, by: str | None) -> None:
    """Record a decision: the human step completes and the run moves on."""
    now = datetime.now(UTC)
    steps = run.setdefault("steps", [])
    steps.append(
        {
            "id": f"step_{len(steps) + 1}",
            "agent": run.pop("current_step", "approver"),
            "status": "completed",
            "output": {"approved": approved, "approved_by": by or "api-key-owner", "notes": notes},
            "duration_ms": 1000,
        }
    )
    run.pop("waiting_for", None)
    run.pop("approve_url", None)
    if approved:
        steps.append(
            {
                "id": f"step_{len(steps) + 1}",
                "agent": "responder",
                "status": "completed",
                "output": {"response": "Approved and sent"},
                "duration_ms": 800,
            }
        )
        run["outputs"] = {"approved": True}
    else:
        run["outputs"] = {"approved": False}
    run["status"] = "completed"
    run["completed_at"] = _iso(now)
    run["updated_at"] = _iso(now)
