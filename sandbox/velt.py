"""The Velt Approval Engine, simulated: seeded executions, auth, canonical errors, reviewer votes.

Shapes follow ``shared/upstreams/velt.txt`` and notes §2 (``ExecutionView``/``StepView``, epoch-ms
times, ``{"data": …}`` in, ``{"result": …}`` or ``{"error": {message, status}}`` out, documented step
id shapes). Where the docs are silent the sandbox chooses, and ``docs/upstreams.md`` records it:

- a waiting human step's ``output`` lists ``reviewers[{userId, mandatory, decision?, decidedAt?,
  reason?}]`` with the votes so far, plus ``approveCount``, ``rejectCount``, ``mandatoryCount`` and
  a ``message``; once decided it adds ``decision``, ``approved``, ``resumedAt`` and, on a rejection,
  ``rejectedBy``, ``rejectorMandatory`` and ``rejectionReason`` (an approval's reason becomes
  ``commentBody``);
- a reviewer's vote is idempotent per (step, reviewer), even after the step resolved; another vote
  on a resolved step or a terminal execution is ``already-terminal``;
- once no human step waits any more, the run moves on: after approval an ``agent-publish`` step and
  a ``notify-team`` notification, after a rejection a ``notify-author`` notification (the reject
  edge); either way the execution ends ``completed`` (a routed rejection is not a failure);
- HTTP statuses follow the Firebase callable convention: 400 INVALID_ARGUMENT and
  FAILED_PRECONDITION, 403 PERMISSION_DENIED, 404 NOT_FOUND.
"""

from __future__ import annotations

import copy
import json
import random
import time
from typing import TYPE_CHECKING, Any

from starlette.responses import JSONResponse
from starlette.routing import Route

if TYPE_CHECKING:
    from collections.abc import Awaitable, Callable

    from starlette.requests import Request

__all__ = [
    "DEMO_REVIEWERS",
    "DEMO_WAITING_ID",
    "DOC_EXAMPLE_ID",
    "VeltError",
    "VeltStore",
    "routes",
]

DOC_EXAMPLE_ID = "exec_1777374504255_xzy43k9q"
DEMO_WAITING_ID = "exec_1777400000000_waitdemo"
DEMO_REVIEWERS = ("lead@example.com", "ops@example.com")

_EXECUTION_STATUSES = ("pending", "running", "completed", "failed", "cancelled")
_TERMINAL_RUNS = frozenset({"completed", "failed", "cancelled"})
_TERMINAL_STEPS = frozenset({"completed", "failed", "skipped", "cancelled", "breached"})
_BASE_MS = 1_777_400_000_000  # the demo run's dispatch time; seeded runs start before it
_SPACING_MS = 420_000
_ALPHABET = "abcdefghijklmnopqrstuvwxyz0123456789"
_MAX_REASON = 2000

JSON = dict[str, Any]


class VeltError(Exception):
    """A canonical Velt error: ``status`` is the gRPC-style word, ``http_status`` the reply code."""

    def __init__(self, status: str, http_status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.http_status = http_status
        self.message = message


def _rand(rng: random.Random, k: int = 8) -> str:
    return "".join(rng.choices(_ALPHABET, k=k))


# --- human step outputs: shared by the seed data and live decisions ---------------------------


def _human_output(message: str, reviewers: list[tuple[str, bool]]) -> JSON:
    output: JSON = {
        "message": message,
        "reviewers": [{"userId": user, "mandatory": mandatory} for user, mandatory in reviewers],
    }
    _recount(output)
    return output


def _recount(output: JSON) -> None:
    reviewers = output["reviewers"]
    output["approveCount"] = sum(r.get("decision") == "approve" for r in reviewers)
    output["rejectCount"] = sum(r.get("decision") == "reject" for r in reviewers)
    output["mandatoryCount"] = sum(bool(r["mandatory"]) for r in reviewers)


def _vote(output: JSON, user: str, decision: str, at: int, reason: str | None = None) -> None:
    entry = next(r for r in output["reviewers"] if r["userId"] == user)
    entry["decision"] = decision
    entry["decidedAt"] = at
    if reason:
        entry["reason"] = reason
    _recount(output)


def _settled(output: JSON) -> str | None:
    """``rejected`` once anyone rejected, ``resolved`` once every mandatory reviewer approved."""
    reviewers = output["reviewers"]
    if any(r.get("decision") == "reject" for r in reviewers):
        return "rejected"
    if all(r.get("decision") == "approve" for r in reviewers if r["mandatory"]):
        return "resolved"
    return None


def _close(step: JSON, at: int) -> str:
    """Complete a settled human step; returns the aggregator status."""
    output = step["output"]
    settled = _settled(output) or "resolved"
    output["decision"] = "approve" if settled == "resolved" else "reject"
    output["approved"] = settled == "resolved"
    output["resumedAt"] = at
    voters = sorted(
        (r for r in output["reviewers"] if "decision" in r), key=lambda r: int(r["decidedAt"])
    )
    if settled == "rejected":
        rejector = next(r for r in voters if r["decision"] == "reject")
        output["rejectedBy"] = rejector["userId"]
        output["rejectorMandatory"] = bool(rejector["mandatory"])
        if rejector.get("reason"):
            output["rejectionReason"] = rejector["reason"]
    elif voters and voters[-1].get("reason"):
        output["commentBody"] = voters[-1]["reason"]
    step["status"] = "completed"
    step["completedAt"] = at
    return settled


def _aggregator_status(step: JSON) -> str | None:
    if step.get("nodeType") != "human":
        return None
    if step["status"] == "waiting":
        return "pending"
    decision = step["output"].get("decision")
    return {"approve": "resolved", "reject": "rejected"}.get(decision or "")


# --- seed data ---------------------------------------------------------------------------------


class _Run:
    """Builds one seeded ExecutionView, laying its steps out on a clock that starts at startedAt."""

    def __init__(
        self, rng: random.Random, *, native_id: str, started_ms: int, definition: str, index: int
    ) -> None:
        self.rng = rng
        self.clock = started_ms + rng.randint(20, 400)
        self.view: JSON = {
            "executionId": native_id,
            "status": "running",
            "startedAt": started_ms,
            "completedAt": None,
            "cancelledAt": None,
            "definitionId": definition,
            "definitionVersion": rng.randint(1, 4),
            "correlationId": f"corr_{definition}_{index}" if index % 3 else None,
            "idempotencyKey": f"{definition}-{index}-dispatch" if index % 4 else None,
            "failureReason": None,
            "steps": [],
        }

    def step(
        self,
        node_id: str,
        node_type: str,
        status: str,
        *,
        after: JSON | None = None,
        join: str | None = None,
        group: str | None = None,
        output: JSON | None = None,
        error: JSON | None = None,
        at: int | None = None,
        span: tuple[int, int] = (200, 6000),
    ) -> JSON:
        if join is not None:
            step_id = f"group_{join}__to__{node_id}"
        elif after is not None:
            step_id = f"{after['stepId']}__to__{node_id}"
        else:
            step_id = f"step_{node_id}_{self.view['startedAt']}_{_rand(self.rng)}"
        started = self.clock if at is None else at
        step: JSON = {
            "stepId": step_id,
            "nodeId": node_id,
            "nodeType": node_type,
            "status": status,
            "groupId": group,
            "startedAt": None if status in ("pending", "skipped") else started,
            "completedAt": None,
            "output": output if output is not None else {},
            "error": error,
        }
        if status in _TERMINAL_STEPS and status != "skipped":
            done = started + self.rng.randint(*span)
            step["completedAt"] = done
            self.clock = max(self.clock, done + self.rng.randint(5, 80))
        self.view["steps"].append(step)
        return step

    def agent(self, node_id: str, status: str = "completed", **kwargs: Any) -> JSON:
        output: JSON = {"agentId": f"{node_id.removeprefix('agent-')}-agent-v1"}
        if status == "completed":
            output.update(agentExecutionStatus="completed", agentResultsSummary=f"{node_id} done")
        elif status == "waiting":
            output["agentExecutionStatus"] = "running"
        return self.step(node_id, "agent", status, output=output, **kwargs)

    def notify(self, node_id: str, after: JSON, status: str = "completed") -> JSON:
        output = {"channel": "email", "delivered": status == "completed"}
        return self.step(
            node_id, "notification", status, after=after, output=output, span=(50, 400)
        )

    def human(
        self,
        node_id: str,
        reviewers: list[tuple[str, bool]],
        *,
        status: str = "waiting",
        votes: tuple[tuple[str, str], ...] = (),
        **kwargs: Any,
    ) -> JSON:
        """A human step; ``votes`` (reviewer, decision) are cast in order, the last at completion."""
        message = f"Please review {self.view['definitionId']} ({node_id})"
        step = self.step(
            node_id,
            "human",
            status,
            output=_human_output(message, reviewers),
            span=(60_000, 3_600_000),
            **kwargs,
        )
        end = step["completedAt"] or self.clock + 30_000
        for n, (user, decision) in enumerate(votes):
            at = end - (len(votes) - 1 - n) * self.rng.randint(10_000, 50_000)
            reason = "Not on brand" if decision == "reject" else None
            _vote(step["output"], user, decision, at, reason)
        if status == "completed":
            _close(step, end)
        return step

    def finish(self, status: str, failure: JSON | None = None) -> JSON:
        self.view["status"] = status
        end = self.clock + self.rng.randint(5, 60)
        if status == "cancelled":
            self.view["cancelledAt"] = end
            for step in self.view["steps"]:
                if step["status"] == "cancelled":
                    step["completedAt"] = end
        elif status in _TERMINAL_RUNS:
            self.view["completedAt"] = end
        self.view["failureReason"] = failure
        return self.view


_PAIR = [("lead@example.com", True), ("ops@example.com", True)]


def _pending(run: _Run) -> JSON:
    return run.finish("pending")


def _running_agent(run: _Run) -> JSON:
    run.agent("agent-draft", "running")
    return run.finish("running")


def _agent_waiting(run: _Run) -> JSON:
    draft = run.agent("agent-draft")
    run.agent("agent-review", "waiting", after=draft)
    return run.finish("running")


def _webhook_waiting(run: _Run) -> JSON:
    extract = run.agent("agent-extract")
    output = {"url": "https://crm.example.com/hooks/velt", "mode": "async", "httpStatus": 202}
    run.step("webhook-crm", "webhook", "waiting", after=extract, output=output)
    return run.finish("running")


def _waiting_single(run: _Run) -> JSON:
    extract = run.agent("agent-extract")
    run.human("human-finance", [("finance@example.com", True)], after=extract)
    return run.finish("running")


def _waiting_two(run: _Run) -> JSON:
    draft = run.agent("agent-draft")
    run.human("human-review", list(_PAIR), after=draft)
    return run.finish("running")


def _waiting_two_voted(run: _Run) -> JSON:
    draft = run.agent("agent-draft")
    reviewers = [*_PAIR, ("brand@example.com", False)]
    run.human("human-review", reviewers, after=draft, votes=(("lead@example.com", "approve"),))
    return run.finish("running")


def _waiting_parallel(run: _Run) -> JSON:
    draft = run.agent("agent-draft")
    t = run.clock
    legal = [("legal@example.com", True)]
    run.human("human-legal", legal, after=draft, group="parallel-review", at=t)
    run.human(
        "human-brand", [("brand@example.com", True)], after=draft, group="parallel-review", at=t
    )
    return run.finish("running")


def _completed_approved(run: _Run) -> JSON:
    draft = run.agent("agent-draft")
    votes = (("ops@example.com", "approve"), ("lead@example.com", "approve"))
    review = run.human("human-review", list(_PAIR), status="completed", after=draft, votes=votes)
    publish = run.agent("agent-publish", after=review)
    run.notify("notify-team", publish)
    return run.finish("completed")


def _completed_rejected(run: _Run) -> JSON:
    draft = run.agent("agent-draft")
    votes = (("lead@example.com", "approve"), ("ops@example.com", "reject"))
    review = run.human("human-review", list(_PAIR), status="completed", after=draft, votes=votes)
    run.step("agent-publish", "agent", "skipped", after=review)
    run.notify("notify-author", review)
    return run.finish("completed")


def _completed_parallel(run: _Run) -> JSON:
    draft = run.agent("agent-draft")
    t = run.clock
    for node, user in (("human-legal", "legal@example.com"), ("human-brand", "brand@example.com")):
        run.human(
            node,
            [(user, True)],
            status="completed",
            after=draft,
            group="parallel-review",
            at=t,
            votes=((user, "approve"),),
        )
    publish = run.agent("agent-publish", join="parallel-review")
    run.notify("notify-team", publish)
    return run.finish("completed")


def _completed_webhook(run: _Run) -> JSON:
    extract = run.agent("agent-extract")
    output = {"url": "https://erp.example.com/invoices", "mode": "sync", "httpStatus": 200}
    hook = run.step("webhook-erp", "webhook", "completed", after=extract, output=output)
    run.notify("notify-requester", hook)
    return run.finish("completed")


def _failed_agent(run: _Run) -> JSON:
    error = {"code": "AGENT_ERROR", "message": "the agent could not reach the page"}
    run.agent("agent-draft", "failed", error=error)
    return run.finish("failed", {"code": "STEP_FAILED", "message": "step agent-draft failed"})


def _failed_breached(run: _Run) -> JSON:
    draft = run.agent("agent-draft")
    review = run.human("human-review", list(_PAIR), status="breached", after=draft)
    review["error"] = {"code": "SLA_BREACHED", "message": "no decision within slaMs"}
    return run.finish("failed", {"code": "SLA_BREACHED", "message": "step human-review breached"})


def _failed_webhook(run: _Run) -> JSON:
    extract = run.agent("agent-extract")
    error = {"code": "WEBHOOK_HTTP_ERROR", "message": "callee answered HTTP 502"}
    run.step("webhook-erp", "webhook", "failed", after=extract, error=error)
    return run.finish("failed", {"code": "STEP_FAILED", "message": "step webhook-erp failed"})


def _cancelled(run: _Run) -> JSON:
    draft = run.agent("agent-draft")
    run.human("human-review", list(_PAIR), status="cancelled", after=draft)
    return run.finish("cancelled")


_SCENARIOS: list[tuple[str, Callable[[_Run], JSON]]] = [
    ("marketing-copy-approval", _completed_approved),
    ("marketing-copy-approval", _waiting_two),
    ("invoice-approval", _waiting_single),
    ("content-moderation", _running_agent),
    ("marketing-copy-approval", _completed_rejected),
    ("contract-review", _waiting_two_voted),
    ("marketing-copy-approval", _waiting_parallel),
    ("content-moderation", _pending),
    ("invoice-approval", _completed_webhook),
    ("content-moderation", _failed_agent),
    ("contract-review", _failed_breached),
    ("marketing-copy-approval", _completed_parallel),
    ("content-moderation", _agent_waiting),
    ("vendor-onboarding", _webhook_waiting),
    ("contract-review", _cancelled),
    ("invoice-approval", _failed_webhook),
]

_DOC_EXAMPLE: JSON = {
    "executionId": DOC_EXAMPLE_ID,
    "status": "completed",
    "startedAt": 1777374504364,
    "completedAt": 1777374842347,
    "cancelledAt": None,
    "definitionId": "marketing-copy-approval",
    "definitionVersion": 1,
    "correlationId": "corr_campaign_42",
    "idempotencyKey": "campaign-42-dispatch",
    "failureReason": None,
    "steps": [
        {
            "stepId": "step_agent-draft_1777374504364_k3j9x2ab",
            "nodeId": "agent-draft",
            "nodeType": "agent",
            "status": "completed",
            "groupId": None,
            "startedAt": 1777374504402,
            "completedAt": 1777374561130,
            "output": {"agentId": "copywriter-agent-v2", "summary": "Draft for campaign 42"},
            "error": None,
        },
        {
            "stepId": "step_agent-draft_1777374504364_k3j9x2ab__to__human-legal",
            "nodeId": "human-legal",
            "nodeType": "human",
            "status": "completed",
            "groupId": "parallel-review",
            "startedAt": 1777374561190,
            "completedAt": 1777374790112,
            "output": {
                "message": "Legal review of campaign 42",
                "reviewers": [
                    {
                        "userId": "legal@example.com",
                        "mandatory": True,
                        "decision": "approve",
                        "decidedAt": 1777374790112,
                    },
                ],
                "approveCount": 1,
                "rejectCount": 0,
                "mandatoryCount": 1,
                "decision": "approve",
                "approved": True,
                "resumedAt": 1777374790112,
            },
            "error": None,
        },
        {
            "stepId": "step_agent-draft_1777374504364_k3j9x2ab__to__human-brand",
            "nodeId": "human-brand",
            "nodeType": "human",
            "status": "completed",
            "groupId": "parallel-review",
            "startedAt": 1777374561190,
            "completedAt": 1777374841702,
            "output": {
                "message": "Brand review of campaign 42",
                "reviewers": [
                    {
                        "userId": "brand@example.com",
                        "mandatory": True,
                        "decision": "approve",
                        "decidedAt": 1777374841702,
                        "reason": "Looks great",
                    },
                ],
                "approveCount": 1,
                "rejectCount": 0,
                "mandatoryCount": 1,
                "decision": "approve",
                "approved": True,
                "resumedAt": 1777374841702,
                "commentBody": "Looks great",
            },
            "error": None,
        },
        {
            "stepId": "group_parallel-review__to__agent-publish",
            "nodeId": "agent-publish",
            "nodeType": "agent",
            "status": "completed",
            "groupId": None,
            "startedAt": 1777374841756,
            "completedAt": 1777374841986,
            "output": {
                "agentId": "publish-agent-v1",
                "summary": "...",
                "generatedAt": 1777374841939,
            },
            "error": None,
        },
        {
            "stepId": "group_parallel-review__to__agent-publish__to__notify-team",
            "nodeId": "notify-team",
            "nodeType": "notification",
            "status": "completed",
            "groupId": None,
            "startedAt": 1777374842010,
            "completedAt": 1777374842290,
            "output": {"channel": "email", "delivered": True},
            "error": None,
        },
    ],
}


def _demo_waiting(rng: random.Random) -> JSON:
    run = _Run(
        rng,
        native_id=DEMO_WAITING_ID,
        started_ms=_BASE_MS + 109,
        definition="marketing-copy-approval",
        index=0,
    )
    draft = run.agent("agent-draft")
    run.human("human-review", [(user, True) for user in DEMO_REVIEWERS], after=draft)
    return run.finish("running")


class VeltStore:
    """Seeded executions (unique ``startedAt`` each, so cursor paging is exact) and their votes."""

    def __init__(
        self, *, seed: int, count: int, api_keys: tuple[str, ...], auth_tokens: tuple[str, ...]
    ) -> None:
        rng = random.Random(f"velt:{seed}")
        self.api_keys = api_keys
        self.auth_tokens = auth_tokens
        self.executions: dict[str, JSON] = {
            DOC_EXAMPLE_ID: copy.deepcopy(_DOC_EXAMPLE),
            DEMO_WAITING_ID: _demo_waiting(rng),
        }
        used = {run["startedAt"] for run in self.executions.values()}
        for index in range(1, count - 1):
            started = _BASE_MS - index * _SPACING_MS - rng.randint(0, _SPACING_MS // 2)
            while started in used:
                started -= 1
            used.add(started)
            dispatched = started - rng.randint(50, 150)
            native_id = f"exec_{dispatched}_{_rand(rng)}"
            definition, scenario = _SCENARIOS[index % len(_SCENARIOS)]
            run = _Run(
                rng, native_id=native_id, started_ms=started, definition=definition, index=index
            )
            self.executions[native_id] = scenario(run)

    def newest_first(self) -> list[JSON]:
        return sorted(self.executions.values(), key=lambda run: int(run["startedAt"]), reverse=True)

    def get(self, native_id: str) -> JSON:
        run = self.executions.get(native_id)
        if run is None:
            raise VeltError("NOT_FOUND", 404, f"Execution {native_id} not found")
        return run

    def page(
        self, *, status: str | None, definition_id: str | None, page_size: int, cursor: int | None
    ) -> JSON:
        runs = [
            run
            for run in self.newest_first()
            if (status is None or run["status"] == status)
            and (definition_id is None or run["definitionId"] == definition_id)
            and (cursor is None or run["startedAt"] < cursor)
        ]
        page = [{**run, "steps": []} for run in runs[:page_size]]
        full = len(page) == page_size
        return {"items": page, "nextCursor": str(page[-1]["startedAt"]) if full else None}

    def record_decision(
        self,
        *,
        execution_id: str,
        step_id: str,
        reviewer_id: str,
        decision: str,
        reason: str | None,
    ) -> JSON:
        """One reviewer's vote, by the documented rules; see the module docstring for our choices."""
        run = self.get(execution_id)
        step = next((s for s in run["steps"] if s["stepId"] == step_id), None)
        if step is None:
            raise VeltError("NOT_FOUND", 404, f"Step {step_id} not found")
        reply: JSON = {"recorded": False, "aggregatorStatus": _aggregator_status(step)}
        reply["resumeScheduled"] = False
        voted: JSON | None = None
        if step["nodeType"] == "human":
            voted = next(
                (r for r in step["output"].get("reviewers", []) if r["userId"] == reviewer_id),
                None,
            )
            if voted is not None and "decision" in voted:
                return {**reply, "reason": "idempotent"}
        if run["status"] in _TERMINAL_RUNS or step["status"] in _TERMINAL_STEPS:
            return {**reply, "reason": "already-terminal"}
        if step["nodeType"] != "human":
            raise VeltError("FAILED_PRECONDITION", 400, "Step is not a human step")
        if step["status"] != "waiting":
            raise VeltError("FAILED_PRECONDITION", 400, "Step is not waiting for reviewers")
        if voted is None:
            return {**reply, "reason": "unknown-responder"}

        now = max(int(time.time() * 1000), int(step["startedAt"] or 0) + 1)
        _vote(step["output"], reviewer_id, decision, now, reason)
        if _settled(step["output"]) is None:
            return {"recorded": True, "aggregatorStatus": "pending", "resumeScheduled": False}
        settled = _close(step, now)
        self._move_on(run, step, now)
        reply = {"recorded": True, "aggregatorStatus": settled, "resumeScheduled": True}
        if settled == "rejected" and reason:
            reply["rejectionReason"] = reason
        return reply

    @staticmethod
    def _move_on(run: JSON, decided: JSON, now: int) -> None:
        """Once no human step waits, follow the approve or reject edge and complete the run."""
        steps: list[JSON] = run["steps"]
        if any(s["nodeType"] == "human" and s["status"] == "waiting" for s in steps):
            return
        group = decided.get("groupId")
        members = [s for s in steps if group and s.get("groupId") == group] or [decided]
        rejected = any(s["output"].get("decision") == "reject" for s in members)
        parent = f"group_{group}" if group else decided["stepId"]

        def add(
            after: str, node_id: str, node_type: str, start: int, end: int, output: JSON
        ) -> str:
            step_id = f"{after}__to__{node_id}"
            steps.append(
                {
                    "stepId": step_id,
                    "nodeId": node_id,
                    "nodeType": node_type,
                    "status": "completed",
                    "groupId": None,
                    "startedAt": start,
                    "completedAt": end,
                    "output": output,
                    "error": None,
                }
            )
            return step_id

        if rejected:
            add(parent, "notify-author", "notification", now + 20, now + 300, {"channel": "email"})
        else:
            summary = {
                "agentId": "publish-agent-v1",
                "summary": "Published",
                "generatedAt": now + 1100,
            }
            publish = add(parent, "agent-publish", "agent", now + 20, now + 1200, summary)
            add(
                publish, "notify-team", "notification", now + 1220, now + 1500, {"channel": "email"}
            )
        run["status"] = "completed"
        run["completedAt"] = now + 1520


# --- HTTP ---------------------------------------------------------------------------------------


def _error(error: VeltError) -> JSONResponse:
    body = {"error": {"message": error.message, "status": error.status}}
    return JSONResponse(body, status_code=error.http_status)


def _check_auth(store: VeltStore, request: Request) -> None:
    if request.headers.get("x-velt-api-key", "") not in store.api_keys:
        raise VeltError("PERMISSION_DENIED", 403, "Invalid or missing API key")
    token = request.headers.get("x-velt-auth-token", "")
    if not token:
        raise VeltError("INVALID_ARGUMENT", 400, "Auth token is required")
    if token not in store.auth_tokens:
        raise VeltError("PERMISSION_DENIED", 403, "Auth token is not registered")


async def _data(request: Request) -> JSON:
    try:
        body = json.loads(await request.body())
    except ValueError:
        body = None
    data = body.get("data") if isinstance(body, dict) else None
    if not isinstance(data, dict):
        raise VeltError("INVALID_ARGUMENT", 400, 'The body must be {"data": {...}}')
    return data


def _string(data: JSON, key: str, *, required: bool = True, limit: int = 200) -> str | None:
    value = data.get(key)
    if value is None and not required:
        return None
    if not isinstance(value, str) or not value or len(value) > limit:
        raise VeltError("INVALID_ARGUMENT", 400, f"data.{key} must be a string of 1..{limit} chars")
    return value


def routes(store: VeltStore) -> list[Route]:
    """The three Velt endpoints the gateway uses, over ``store``."""

    def endpoint(handle: Callable[[JSON], JSON]) -> Callable[[Request], Awaitable[JSONResponse]]:
        async def serve(request: Request) -> JSONResponse:
            try:
                _check_auth(store, request)
                result = handle(await _data(request))
            except VeltError as error:
                return _error(error)
            return JSONResponse({"result": result})

        return serve

    def get_execution(data: JSON) -> JSON:
        return store.get(_string(data, "executionId") or "")

    def list_executions(data: JSON) -> JSON:
        status = _string(data, "status", required=False)
        if status is not None and status not in _EXECUTION_STATUSES:
            raise VeltError(
                "INVALID_ARGUMENT", 400, f"data.status must be one of {_EXECUTION_STATUSES}"
            )
        page_size = data.get("pageSize", 50)
        if (
            isinstance(page_size, bool)
            or not isinstance(page_size, int)
            or not 1 <= page_size <= 500
        ):
            raise VeltError("INVALID_ARGUMENT", 400, "data.pageSize must be an integer in 1..500")
        cursor = _string(data, "cursor", required=False)
        if cursor is not None and not cursor.isdigit():
            raise VeltError("INVALID_ARGUMENT", 400, "data.cursor must be a previous nextCursor")
        return store.page(
            status=status,
            definition_id=_string(data, "definitionId", required=False),
            page_size=page_size,
            cursor=int(cursor) if cursor is not None else None,
        )

    def record_decision(data: JSON) -> JSON:
        decision = data.get("decision")
        if decision not in ("approve", "reject"):
            raise VeltError("INVALID_ARGUMENT", 400, 'data.decision must be "approve" or "reject"')
        return store.record_decision(
            execution_id=_string(data, "executionId") or "",
            step_id=_string(data, "stepId", limit=1000) or "",
            reviewer_id=_string(data, "reviewerId") or "",
            decision=decision,
            reason=_string(data, "reason", required=False, limit=_MAX_REASON),
        )

    return [
        Route("/v2/workflow/executions/get", endpoint(get_execution), methods=["POST"]),
        Route("/v2/workflow/executions/list", endpoint(list_executions), methods=["POST"]),
        Route(
            "/v2/workflow/steps/recordReviewerDecision",
            endpoint(record_decision),
            methods=["POST"],
        ),
    ]
