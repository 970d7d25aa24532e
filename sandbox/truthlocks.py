"""The Truthlocks-style orchestrations API, simulated: seeded runs of both documented schemas.

The vendor's page shows two response schemas, so by default (``variants="both"``) half the seeded
orchestrations follow the prose one (variant A: ``maip-orch:<ULID>`` ids, numbered steps, cost in
cents, a receipt id) and half the OpenAPI one (variant B: uuid ids, steps with a free-form
status, ``results``, ``receipts[]``); ``"prose"`` or ``"openapi"`` serves only one. Where the
page is silent (step status words, what a cancelled or timed-out run looks like, tenant isolation
answering 404) the sandbox makes the choice recorded in ``docs/upstreams.md``.

``POST /v1/orchestrations/execute`` takes either documented request: the prose one
(``{agent_id, workflow_id?, input}`` → ``{id: "maip-orch:<ULID>", agent_id, workflow_id, status:
"running", started_at}``) or the OpenAPI one (``{workflow_id, agents[], parameters}`` → the whole
variant-B object, ``status: "pending"``); no idempotency key, no cancel (none is documented).
"""

from __future__ import annotations

import copy
import json
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
    "DEMO_COMPLETED_ID",
    "DOC_EXAMPLE_ID",
    "TWIN",
    "TruthlocksStore",
    "Variants",
    "routes",
]


TWIN = Twin(
    kind="truthlocks",
    demo_name="tl",
    credentials={"api_key": "tl_test_sandbox", "tenant_id": "tenant_sandbox"},
    headers=(("X-API-Key", "{api_key}"), ("X-Tenant-ID", "{tenant_id}")),
    probe="GET  /v1/orchestrations/<id>",
    webhook_header="X-Truthlocks-Signature",
    webhook_secret="whsec_sandbox_truthlocks",  # noqa: S106 (the sandbox's published test secret)
)
"""What this twin tells the demo and the banner (sandbox/twins.py)."""
Variants = Literal["both", "prose", "openapi"]
"""Which documented response schema the sandbox serves: both (seeded alternately), only the
prose one (variant A), or only the OpenAPI one (variant B)."""

DOC_EXAMPLE_ID = "3c90c3cc-0d44-4b50-8888-8dd25736052a"
"""The OpenAPI (variant B) example of the doc page, verbatim: a pending orchestration."""
DEMO_COMPLETED_ID = "maip-orch:01JDEMO0000000000000000000"
"""A completed variant-A orchestration with steps, a cost and a receipt."""

_CROCKFORD = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
_ACTIONS = ["llm_inference", "tool_call", "decision", "guardrail_check", "transform", "webhook"]
_STATUSES_A = ["completed", "completed", "running", "failed", "timeout"]
_STATUSES_B = ["completed", "completed", "pending", "running", "failed", "cancelled", "suspended"]
# "suspended": a run status neither schema documents, for the adapter's UNKNOWN path.
_BASE_TIME = datetime(2026, 11, 1, 12, 0, tzinfo=UTC)

_DOC_EXAMPLE: dict[str, Any] = {
    "orchestration_id": DOC_EXAMPLE_ID,
    "workflow_id": "3c90c3cc-0d44-4b50-8888-8dd25736052a",
    "agents": ["3c90c3cc-0d44-4b50-8888-8dd25736052a"],
    "parameters": {},
    "status": "pending",
    "steps": [
        {
            "step_id": "<string>",
            "agent_id": "3c90c3cc-0d44-4b50-8888-8dd25736052a",
            "action": "<string>",
            "status": "<string>",
            "result": {},
            "started_at": "2023-11-07T05:31:56Z",
            "completed_at": "2023-11-07T05:31:56Z",
        }
    ],
    "results": {},
    "receipts": ["3c90c3cc-0d44-4b50-8888-8dd25736052a"],
    "created_at": "2023-11-07T05:31:56Z",
}

_DEMO_COMPLETED: dict[str, Any] = {
    "id": DEMO_COMPLETED_ID,
    "agent_id": "maip-agent:01JDEMOAGENT00000000000000",
    "workflow_id": "6f1c2a9e-3b7d-4c21-9a55-0d7e3f1b8c42",
    "status": "completed",
    "steps": [
        {
            "step_number": 1,
            "action": "guardrail_check",
            "result": "Input passed PII and policy checks",
            "duration_ms": 45,
        },
        {
            "step_number": 2,
            "action": "llm_inference",
            "result": "Classified the request as a refund",
            "duration_ms": 820,
        },
        {
            "step_number": 3,
            "action": "tool_call",
            "result": "Looked up order #12345: paid, eligible",
            "duration_ms": 340,
        },
        {
            "step_number": 4,
            "action": "decision",
            "result": "Refund approved under policy R-7",
            "duration_ms": 12,
        },
    ],
    "output": {"decision": "refund", "order": "12345", "amount_usd": "49.90"},
    "total_cost_cents": 12.5,
    "receipt_id": "b7e3f0a2-5c1d-4e8f-9a6b-2d4c8e1f0a37",
    "started_at": "2026-11-01T11:58:00Z",
    "completed_at": "2026-11-01T11:58:01.217Z",
}


def _iso(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


def _ulid(rng: random.Random, moment: datetime) -> str:
    """26 Crockford base32 characters: 48 bits of milliseconds, then 80 seeded random bits."""
    value = (int(moment.timestamp() * 1000) << 80) | rng.getrandbits(80)
    return "".join(_CROCKFORD[(value >> (5 * shift)) & 31] for shift in range(25, -1, -1))


def _uuid(rng: random.Random) -> str:
    return str(uuid.UUID(int=rng.getrandbits(128), version=4))


def _variant_a(rng: random.Random, index: int, status: str) -> dict[str, Any]:
    started = _BASE_TIME - timedelta(
        minutes=5 * index + rng.randint(0, 4), seconds=rng.randint(0, 59)
    )
    run: dict[str, Any] = {
        "id": f"maip-orch:{_ulid(rng, started)}",
        "agent_id": f"maip-agent:{_ulid(rng, started - timedelta(days=30))}",
        "status": status,
        "started_at": _iso(started),
    }
    if rng.random() < 0.7:  # "if applicable"
        run["workflow_id"] = _uuid(rng)
    count = rng.randint(1, 6)
    steps = []
    for number in range(1, count + 1):
        action = rng.choice(_ACTIONS)
        # "every step executed": each listed step has its outcome and duration, in a running
        # run too (the step under way is not listed yet).
        step: dict[str, Any] = {
            "step_number": number,
            "action": action,
            "result": f"{action} finished",
            "duration_ms": rng.randint(10, 4000),
        }
        steps.append(step)
    if status == "failed":
        steps[-1]["result"] = f"{steps[-1]['action']} failed"
    elif status == "timeout":
        steps[-1]["result"] = f"{steps[-1]['action']} exceeded the time limit"
    if rng.random() < 0.5:
        steps.reverse()  # the upstream's order is not promised; step_number is
    run["steps"] = steps
    run["total_cost_cents"] = round(rng.uniform(0.1, 40.0) * count, 1)
    spent = sum(s.get("duration_ms", 0) for s in steps)
    if status == "timeout":
        run["completed_at"] = _iso(started + timedelta(seconds=300))
    elif status in ("completed", "failed"):
        run["completed_at"] = _iso(started + timedelta(milliseconds=spent))
    if status == "completed":
        run["output"] = {"answer": f"orchestration #{index} done", "steps_taken": count}
        run["receipt_id"] = _uuid(rng)
    elif status == "failed":
        code = rng.choice(["TOOL_ERROR", "LLM_ERROR", "GUARDRAIL_BLOCKED"])
        run["error"] = {"code": code, "message": f"step {count} failed: {code.lower()}"}
    return run


def _variant_b(rng: random.Random, index: int, status: str) -> dict[str, Any]:
    created = _BASE_TIME - timedelta(
        minutes=5 * index + rng.randint(0, 4), seconds=rng.randint(0, 59)
    )
    agents = [_uuid(rng) for _ in range(rng.randint(1, 3))]
    run: dict[str, Any] = {
        "orchestration_id": _uuid(rng),
        "workflow_id": _uuid(rng),
        "agents": agents,
        "parameters": {
            "ticket": f"Ticket #{2000 + index}",
            "priority": rng.choice(["low", "high"]),
        },
        "status": status,
        "steps": [],
        "results": {},
        "receipts": [],
        "created_at": _iso(created),
    }
    if status == "pending":
        return run
    count = rng.randint(1, 6)
    words = ["completed"] * count
    last_word = {"running": "running", "cancelled": "cancelled", "suspended": "paused"}.get(status)
    if last_word:
        words[-1] = last_word
    elif status == "failed":
        if count >= 3:
            words[-2:] = ["failed", "skipped"]
        else:
            words[-1] = "failed"
    moment = created + timedelta(milliseconds=rng.randint(5, 200))
    steps = []
    for number, word in enumerate(words, start=1):
        action = rng.choice(_ACTIONS)
        step: dict[str, Any] = {
            "step_id": f"step_{number}",
            "agent_id": rng.choice(agents),
            "action": action,
            "status": word,
            "result": {},
        }
        if word != "skipped":
            step["started_at"] = _iso(moment)
        if word in ("completed", "failed", "cancelled"):
            moment += timedelta(milliseconds=rng.randint(10, 4000))
            step["completed_at"] = _iso(moment)
            step["result"] = (
                {"error": f"{action} failed"}
                if word == "failed"
                else {"summary": f"{action} finished"}
            )
        steps.append(step)
    run["steps"] = steps
    if status == "completed":
        run["results"] = {"answer": f"orchestration #{index} done", "steps_taken": count}
        run["receipts"] = [_uuid(rng) for _ in range(rng.randint(1, 2))]
    return run


class TruthlocksStore:
    """Seeded orchestrations of both schemas, all owned by the first tenant.

    Other tenants in ``tenant_ids`` are valid but own nothing, so asking for an orchestration
    under them answers 404, as tenant isolation would.
    """

    def __init__(
        self,
        *,
        seed: int,
        count: int,
        api_keys: tuple[str, ...],
        tenant_ids: tuple[str, ...],
        variants: Variants = "both",
    ) -> None:
        rng = random.Random(f"truthlocks:{seed}")
        self.api_keys = api_keys
        self.tenant_ids = tenant_ids
        self.owner = tenant_ids[0]
        self.variants: Variants = variants
        self.orchestrations: dict[str, dict[str, Any]] = {}
        self.started: list[str] = []
        """Orchestrations started through the API, oldest first."""
        self._rng = random.Random(f"truthlocks-live:{seed}")
        if variants != "prose":
            self.orchestrations[DOC_EXAMPLE_ID] = copy.deepcopy(_DOC_EXAMPLE)
        if variants != "openapi":
            self.orchestrations[DEMO_COMPLETED_ID] = copy.deepcopy(_DEMO_COMPLETED)
        for index in range(1, count - 1):
            prose = variants == "prose" or (variants == "both" and index % 2 == 1)
            if prose:
                run = _variant_a(rng, index, _STATUSES_A[(index // 2) % len(_STATUSES_A)])
                self.orchestrations[run["id"]] = run
            else:
                run = _variant_b(rng, index, _STATUSES_B[(index // 2) % len(_STATUSES_B)])
                self.orchestrations[run["orchestration_id"]] = run

    def execute(self, body: dict[str, Any]) -> dict[str, Any] | None:
        """Start an orchestration from either documented request; None when it is neither."""
        now = datetime.now(UTC)
        agent_id, workflow_id = body.get("agent_id"), body.get("workflow_id")
        if isinstance(agent_id, str) and agent_id and isinstance(body.get("input"), dict):
            run: dict[str, Any] = {
                "id": f"maip-orch:{_ulid(self._rng, now)}",
                "agent_id": agent_id,
                "status": "running",
                "started_at": _iso(now),
                "steps": [],
            }
            if isinstance(workflow_id, str):
                run["workflow_id"] = workflow_id
            self.orchestrations[run["id"]] = run
            self.started.append(run["id"])
            reply = {k: run.get(k) for k in ("id", "agent_id", "workflow_id", "status")}
            return {**reply, "started_at": run["started_at"]}
        agents = body.get("agents")
        if (
            isinstance(workflow_id, str)
            and isinstance(agents, list)
            and agents
            and all(isinstance(a, str) for a in agents)
            and isinstance(body.get("parameters", {}), dict)
        ):
            run = {
                "orchestration_id": _uuid(self._rng),
                "workflow_id": workflow_id,
                "agents": agents,
                "parameters": body.get("parameters", {}),
                "status": "pending",
                "steps": [],
                "results": {},
                "receipts": [],
                "created_at": _iso(now),
            }
            self.orchestrations[run["orchestration_id"]] = run
            self.started.append(run["orchestration_id"])
            return copy.deepcopy(run)
        return None

    def get(self, tenant_id: str, orchestration_id: str) -> dict[str, Any] | None:
        if tenant_id != self.owner:
            return None
        return self.orchestrations.get(orchestration_id)


def _error(status: int, code: str, message: str) -> JSONResponse:
    body = {"code": code, "message": message, "details": {}, "trace_id": "trace_sandbox"}
    return JSONResponse(body, status_code=status)


def routes(store: TruthlocksStore) -> list[Route]:
    """The Truthlocks-style endpoint over ``store``."""

    async def get_orchestration(request: Request) -> JSONResponse:
        if request.headers.get("x-api-key") not in store.api_keys:
            return _error(401, "UNAUTHORIZED", "Missing or invalid API key")
        tenant_id = request.headers.get("x-tenant-id")
        if not tenant_id:
            return _error(400, "INVALID_REQUEST", "X-Tenant-ID header is required")
        run = store.get(tenant_id, request.path_params["orchestration_id"])
        if run is None:
            return _error(404, "NOT_FOUND", "Orchestration not found")
        return JSONResponse(run)

    async def execute(request: Request) -> JSONResponse:
        if request.headers.get("x-api-key") not in store.api_keys:
            return _error(401, "UNAUTHORIZED", "Missing or invalid API key")
        if request.headers.get("x-tenant-id") != store.owner:
            return _error(403, "FORBIDDEN", "This tenant may not start orchestrations")
        try:
            body = json.loads(await request.body())
        except ValueError:
            body = None
        run = store.execute(body) if isinstance(body, dict) else None
        if run is None:
            return _error(
                400,
                "INVALID_INPUT",
                "Expected {agent_id, input} or {workflow_id, agents, parameters}",
            )
        return JSONResponse(run)

    return [
        Route("/v1/orchestrations/execute", execute, methods=["POST"]),
        Route("/v1/orchestrations/{orchestration_id}", get_orchestration, methods=["GET"]),
    ]
