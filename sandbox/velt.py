"""The Velt Approval Engine, simulated: seeded executions, auth, canonical errors, reviewer votes.

Shapes follow the vendor's documents (``ExecutionView``/``StepView``, epoch-ms times, ``{"data": …}``
in, ``{"result": …}`` or ``{"error": {message, status}}`` out, the documented step id shapes, the
human step's resolution output, and the decision reply ``{recorded, aggregatorStatus,
resumeScheduled, rejectionReason?}``). Where the documents are silent the sandbox chooses, and
``docs/upstreams.md`` records it:

- votes are kept apart from the payload (Velt documents no per-reviewer vote list); a settled human
  step's output has exactly the documented fields: ``reviewers[{userId, mandatory}]``,
  ``reviewerIds``, ``reviewerEmails``, ``commentBody`` (the settling vote's reason, else null),
  ``aggregatorStatus``, ``approveCount``, ``rejectCount``, ``totalResponses``, ``mandatoryCount``,
  ``mandatoryApproveCount``, ``decision``, ``approved``, ``resumedAt``, ``resumeKey`` and, on a
  rejection, ``rejectedBy``/``rejectorMandatory``;
- what a *waiting* human step's output holds is not documented: ``waiting_output="reviewers"``
  (default) shows the declared reviewers and the counts so far, ``"empty"`` shows ``{}``;
- a settled step resumes the run at once (``resume_after_reads=0``) or, as Velt's
  ``resumeScheduled`` allows, reads ``waiting`` (with the resolution already in its output) for
  that many more ``executions/get`` reads of the run first;
- a reviewer's second vote is ``idempotent`` whatever its decision; a vote on a settled step or a
  terminal run is ``already-terminal``;
- once no human step waits any more, the run moves on: after approval an ``agent-publish`` step and
  a ``notify-team`` notification, after a rejection a ``notify-author`` notification (the reject
  edge); either way the execution ends ``completed`` (a routed rejection is not a failure);
- ``executions/dispatch`` starts a run of any ``definitionId``: an agent step, then a human step
  waiting for ``DEMO_REVIEWERS`` (both mandatory); a repeated ``idempotencyKey`` answers the first
  run with ``deduplicated: true``; ``executions/cancel`` ends a live run ``cancelled`` (its open
  steps too) and is a no-op on a finished one, answering ``cancelled: false`` there;
- ``definitions/get`` serves the seeded definitions (``DEFINITIONS``) at their current version
  only (old versions are not readable, as documented): nodes with ``nodeId``, ``type``,
  ``config`` and, on some human nodes, ``slaMs``; ``edges`` are served empty (their field names
  are not documented in our copy) and ``groups`` name the parallel review. A seeded run is pinned
  to a random version up to the current one; a dispatched run pins the current one (1 for a
  definition the sandbox does not know, whose ``definitions/get`` is NOT_FOUND);
- a ``breached`` human step ends exactly ``slaMs`` after it started;
- HTTP statuses follow the Firebase callable convention: 400 INVALID_ARGUMENT and
  FAILED_PRECONDITION, 403 PERMISSION_DENIED, 404 NOT_FOUND.
"""

from __future__ import annotations

import copy
import json
import random
import re
import time
from typing import TYPE_CHECKING, Any, Literal

from starlette.routing import Route

from sandbox.responses import JSONResponse
from sandbox.twins import Twin

if TYPE_CHECKING:
    from collections.abc import Awaitable, Callable

    from starlette.requests import Request

__all__ = [
    "DEFINITIONS",
    "DEMO_REVIEWERS",
    "DEMO_WAITING_ID",
    "DOC_EXAMPLE_ID",
    "TWIN",
    "VeltError",
    "VeltStore",
    "routes",
]


TWIN = Twin(
    kind="velt",
    demo_name="velt",
    credentials={"api_key": "ak_test_sandbox", "auth_token": "at_test_sandbox"},
    headers=(("x-velt-api-key", "{api_key}"), ("x-velt-auth-token", "{auth_token}")),
    probe='POST /v2/workflow/executions/list {"data": {}}',
    webhook_header="x-velt-signature",
    webhook_secret="whsec_sandbox_velt",  # noqa: S106 (the sandbox's published test secret)
)
"""What this twin tells the demo and the banner (sandbox/twins.py)."""
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
_KEY = re.compile(r"[A-Za-z0-9:_\-.]{1,200}")
"""The documented pattern of ``idempotencyKey`` and ``correlationId``."""

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


# --- human steps: votes kept apart, outputs rendered from them ---------------------------------

_REVIEW = "_review"
"""The private key a human step keeps its declared reviewers and votes under; never served."""

WaitingOutput = Literal["reviewers", "empty"]


def _new_review(reviewers: list[tuple[str, bool]]) -> JSON:
    return {"reviewers": [list(r) for r in reviewers], "votes": {}, "settled": None}


def _vote(step: JSON, user: str, decision: str, at: int, reason: str | None = None) -> None:
    step[_REVIEW]["votes"][user] = {"decision": decision, "at": at, "reason": reason}


def _settle(review: JSON) -> str | None:
    """``rejected`` once anyone rejected, ``resolved`` once every mandatory reviewer approved."""
    votes = review["votes"]
    if any(v["decision"] == "reject" for v in votes.values()):
        return "rejected"
    mandatory = [user for user, required in review["reviewers"] if required]
    if all(votes.get(user, {}).get("decision") == "approve" for user in mandatory):
        return "resolved"
    return None


def _render(step: JSON, mode: WaitingOutput) -> None:
    """Write the step's documented ``output`` from its reviewers and votes."""
    review = step[_REVIEW]
    settled = review["settled"]
    if settled is None and mode == "empty":
        step["output"] = {}
        return
    reviewers = review["reviewers"]
    votes = review["votes"]
    mandatory = {user for user, required in reviewers if required}
    approvals = [u for u, v in votes.items() if v["decision"] == "approve"]
    output: JSON = {
        "reviewers": [{"userId": user, "mandatory": required} for user, required in reviewers],
        "reviewerIds": [user for user, _ in reviewers],
        "reviewerEmails": [user for user, _ in reviewers if "@" in user],
        "approveCount": len(approvals),
        "rejectCount": sum(v["decision"] == "reject" for v in votes.values()),
        "totalResponses": len(votes),
        "mandatoryCount": len(mandatory),
        "mandatoryApproveCount": sum(u in mandatory for u in approvals),
    }
    if settled is not None:
        by_time = sorted(votes.items(), key=lambda item: int(item[1]["at"]))
        if settled == "rejected":
            rejector, vote = next((u, v) for u, v in by_time if v["decision"] == "reject")
        else:
            rejector, vote = None, by_time[-1][1]
        output.update(
            commentBody=vote["reason"],
            aggregatorStatus=settled,
            decision="approve" if settled == "resolved" else "reject",
            approved=settled == "resolved",
            resumeKey=review["resumeKey"],
        )
        if review.get("resumedAt") is not None:
            output["resumedAt"] = review["resumedAt"]
        if rejector is not None:
            output["rejectedBy"] = rejector
            output["rejectorMandatory"] = rejector in mandatory
    step["output"] = output


def _settle_step(step: JSON, at: int, rng: random.Random) -> str:
    """Mark a human step's aggregator settled (the step itself may still read ``waiting``)."""
    review = step[_REVIEW]
    review["settled"] = _settle(review) or "resolved"
    review["settledAt"] = at
    review["resumeKey"] = f"rk_{_rand(rng, 12)}"
    return str(review["settled"])


def _resume_step(step: JSON, at: int) -> None:
    """The run resumes past a settled human step: it completes."""
    step[_REVIEW]["resumedAt"] = at
    step["status"] = "completed"
    step["completedAt"] = at


def _aggregator_status(step: JSON) -> str | None:
    if step.get("nodeType") != "human" or _REVIEW not in step:
        return None
    settled: str | None = step[_REVIEW]["settled"]
    if settled is not None:
        return settled
    return "pending" if step["status"] == "waiting" else None


def _public(run: JSON) -> JSON:
    """The ExecutionView as served: without the sandbox's private vote records."""
    steps = [{k: v for k, v in step.items() if k != _REVIEW} for step in run["steps"]]
    return {**run, "steps": steps}


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
        step = self.step(node_id, "human", status, span=(60_000, 3_600_000), **kwargs)
        step[_REVIEW] = _new_review(reviewers)
        end = step["completedAt"] or self.clock + 30_000
        for n, (user, decision) in enumerate(votes):
            at = end - (len(votes) - 1 - n) * self.rng.randint(10_000, 50_000)
            reason = "Not on brand" if decision == "reject" else None
            _vote(step, user, decision, at, reason)
        if status == "completed":
            _settle_step(step, end, self.rng)
            _resume_step(step, end)
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

_CURRENT_VERSION = 4
"""Every seeded definition's current version: seeded runs are pinned to 1..4."""
_DEFINED_MS = _BASE_MS - 30 * 24 * 3600 * 1000


def _node(node_id: str, node_type: str, config: JSON, sla_ms: int | None = None) -> JSON:
    node: JSON = {"nodeId": node_id, "type": node_type, "config": config}
    if sla_ms is not None:
        node["slaMs"] = sla_ms
    return node


def _agent_node(node_id: str) -> JSON:
    return _node(node_id, "agent", {"agentId": f"{node_id.removeprefix('agent-')}-agent-v1"})


def _human_node(node_id: str, reviewers: list[tuple[str, bool]], sla_ms: int | None) -> JSON:
    config = {
        "reviewers": [{"userId": user, "mandatory": required} for user, required in reviewers]
    }
    return _node(node_id, "human", config, sla_ms)


def _notify_node(node_id: str) -> JSON:
    return _node(node_id, "notification", {"channel": "email"})


def _definition(definition_id: str, name: str, nodes: list[JSON], groups: list[JSON]) -> JSON:
    """A DefinitionView as ``definitions/get`` documents it."""
    return {
        "definitionId": definition_id,
        "name": name,
        "description": None,
        "version": _CURRENT_VERSION,
        "scope": {"level": "apiKey", "organizationId": None, "documentId": None},
        "nodes": nodes,
        "edges": [],
        "groups": groups,
        "triggers": None,
        "tags": None,
        "custom": None,
        "createdAt": _DEFINED_MS,
        "updatedAt": _DEFINED_MS + 3_600_000,
        "status": "active",
    }


_HOUR_MS = 3_600_000
DEFINITIONS: dict[str, JSON] = {
    "marketing-copy-approval": _definition(
        "marketing-copy-approval",
        "Marketing copy approval",
        [
            _agent_node("agent-draft"),
            _human_node("human-review", _PAIR, 24 * _HOUR_MS),
            _human_node("human-legal", [("legal@example.com", True)], 48 * _HOUR_MS),
            _human_node("human-brand", [("brand@example.com", True)], None),
            _agent_node("agent-publish"),
            _notify_node("notify-team"),
            _notify_node("notify-author"),
        ],
        [
            {
                "groupId": "parallel-review",
                "memberNodeIds": ["human-legal", "human-brand"],
                "quorum": 2,
                "onQuorumMet": "joinOnQuorum",
            }
        ],
    ),
    "invoice-approval": _definition(
        "invoice-approval",
        "Invoice approval",
        [
            _agent_node("agent-extract"),
            _human_node("human-finance", [("finance@example.com", True)], 4 * _HOUR_MS),
            _node("webhook-erp", "webhook", {"url": "https://erp.example.com/invoices"}),
            _notify_node("notify-requester"),
        ],
        [],
    ),
    "contract-review": _definition(
        "contract-review",
        "Contract review",
        [
            _agent_node("agent-draft"),
            _human_node("human-review", [*_PAIR, ("brand@example.com", False)], _HOUR_MS),
        ],
        [],
    ),
    "content-moderation": _definition(
        "content-moderation",
        "Content moderation",
        [_agent_node("agent-draft"), _agent_node("agent-review")],
        [],
    ),
    "vendor-onboarding": _definition(
        "vendor-onboarding",
        "Vendor onboarding",
        [
            _agent_node("agent-extract"),
            _node("webhook-crm", "webhook", {"url": "https://crm.example.com/hooks/velt"}),
        ],
        [],
    ),
}
"""The seeded definitions, at their current version (the only one ``definitions/get`` serves)."""


def _sla_ms(definition_id: str, node_id: str) -> int:
    node = next(n for n in DEFINITIONS[definition_id]["nodes"] if n["nodeId"] == node_id)
    return int(node["slaMs"])


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
    review["completedAt"] = review["startedAt"] + _sla_ms("contract-review", "human-review")
    run.clock = max(run.clock, review["completedAt"] + 5)
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
        }
    ],
}
"""The ``executions/get`` success example of the vendor's page, verbatim."""


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
    """Seeded executions (unique ``startedAt`` each, so cursor paging is exact) and their votes.

    ``waiting_output`` and ``resume_after_reads`` pick among the behaviours the documents leave
    open (see the module docstring).
    """

    def __init__(
        self,
        *,
        seed: int,
        count: int,
        api_keys: tuple[str, ...],
        auth_tokens: tuple[str, ...],
        waiting_output: WaitingOutput = "reviewers",
        resume_after_reads: int = 0,
    ) -> None:
        rng = random.Random(f"velt:{seed}")
        self._rng = random.Random(f"velt-live:{seed}")
        self.api_keys = api_keys
        self.auth_tokens = auth_tokens
        self.waiting_output: WaitingOutput = waiting_output
        self.resume_after_reads = resume_after_reads
        self.started: list[str] = []
        """Runs dispatched through the API, oldest first."""
        self.trigger_contexts: dict[str, JSON] = {}
        self.definitions: dict[str, JSON] = copy.deepcopy(DEFINITIONS)
        self._dispatched: dict[str, str] = {}
        """``idempotencyKey`` → the run it dispatched."""
        self._resuming: dict[str, int] = {}
        """Runs with a settled step that still reads ``waiting``: reads left before they resume."""
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
        for view in self.executions.values():
            for step in view["steps"]:
                if _REVIEW in step:
                    _render(step, waiting_output)

    def definition(self, definition_id: str) -> JSON:
        """``definitions/get``: the current version only; an unknown one is NOT_FOUND."""
        definition = self.definitions.get(definition_id)
        if definition is None:
            raise VeltError("NOT_FOUND", 404, f"Definition {definition_id} not found")
        return copy.deepcopy(definition)

    def newest_first(self) -> list[JSON]:
        return sorted(self.executions.values(), key=lambda run: int(run["startedAt"]), reverse=True)

    def get(self, native_id: str) -> JSON:
        run = self.executions.get(native_id)
        if run is None:
            raise VeltError("NOT_FOUND", 404, f"Execution {native_id} not found")
        return run

    def read(self, native_id: str) -> JSON:
        """An ``executions/get`` read: counts down a scheduled resume, then the served view."""
        run = self.get(native_id)
        left = self._resuming.get(native_id)
        if left is not None:
            if left <= 0:
                self.resume(native_id)
            else:
                self._resuming[native_id] = left - 1
        return _public(run)

    def events(self, native_id: str, since_seq: int, page_size: int) -> JSON:
        """An ``executions/getEvents`` page: the run's external events, derived from its state.

        The documented event object (``eventId``, ``seq``, ``type``, ``stepId``, ``timestamp`` in
        ms, ``correlationId``, ``data``); ``seq`` grows with gaps, as the documents warn (internal
        events are filtered), here by steps of 2. Events with ``seq`` above ``since_seq`` come
        back, ``page_size`` at most, with ``hasMore`` and ``nextCursor`` (the last ``seq``)."""
        run = _public(self.get(native_id))
        happened: list[tuple[str, str | None, int | None, JSON | None]] = [
            ("execution.dispatched", None, run.get("startedAt"), None)
        ]
        for step in run.get("steps", []):
            status = step.get("status")
            if step.get("nodeType") == "human" and status in ("waiting", "completed", "failed"):
                output = step.get("output") or {}
                reviewers = output.get("reviewerIds") if isinstance(output, dict) else None
                happened.append(
                    (
                        "step.awaiting-approval",
                        step["stepId"],
                        step.get("startedAt"),
                        {"waitingForReviewers": reviewers or []},
                    )
                )
            ends = {
                "completed": "step.completed",
                "failed": "step.failed",
                "cancelled": "step.cancelled",
                "breached": "step.breached",
            }
            if status in ends:
                happened.append((ends[status], step["stepId"], step.get("completedAt"), None))
        final = {
            "completed": "execution.completed",
            "failed": "execution.failed",
            "cancelled": "execution.cancelled",
        }.get(run.get("status", ""))
        if final is not None:
            at = run.get("completedAt") or run.get("cancelledAt")
            happened.append((final, None, at, None))
        # Emitted as things happen: ``seq`` follows time (parallel steps interleave).
        happened.sort(key=lambda event: (event[2] is None, event[2] or 0))
        events: list[JSON] = [
            {
                "eventId": f"evt_{native_id}_{2 * n + 1}",
                "seq": 2 * n + 1,
                "type": kind,
                "stepId": step_id,
                "timestamp": at,
                "correlationId": run.get("correlationId"),
                **({"data": data} if data is not None else {}),
            }
            for n, (kind, step_id, at, data) in enumerate(happened)
        ]
        after = [e for e in events if e["seq"] > since_seq]
        page = after[:page_size]
        more = len(after) > page_size
        return {
            "executionId": native_id,
            "events": page,
            "nextCursor": str(page[-1]["seq"]) if more and page else None,
            "hasMore": more,
        }

    def dispatch(
        self, definition_id: str, key: str | None, correlation_id: str | None, context: JSON
    ) -> JSON:
        """Start a run (or answer the one ``key`` started, ``deduplicated``)."""
        if key is not None and key in self._dispatched:
            native_id = self._dispatched[key]
            return {
                "executionId": native_id,
                "correlationId": self.get(native_id)["correlationId"],
                "deduplicated": True,
            }
        now = max(
            [int(time.time() * 1000), *(int(r["startedAt"]) for r in self.executions.values())]
        )
        native_id = f"exec_{now}_{_rand(self._rng)}"
        run = _Run(
            self._rng, native_id=native_id, started_ms=now + 1, definition=definition_id, index=0
        )
        definition = self.definitions.get(definition_id)
        version = definition["version"] if definition is not None else 1
        run.view.update(correlationId=correlation_id, idempotencyKey=key, definitionVersion=version)
        draft = run.agent("agent-draft")
        step = run.human("human-review", [(user, True) for user in DEMO_REVIEWERS], after=draft)
        _render(step, self.waiting_output)
        view = run.finish("running")
        self.trigger_contexts[native_id] = context  # kept, never served (Velt shows none)
        self.executions[native_id] = view
        self.started.append(native_id)
        if key is not None:
            self._dispatched[key] = native_id
        return {"executionId": native_id, "correlationId": correlation_id, "deduplicated": False}

    def cancel(self, native_id: str) -> JSON:
        """Cancel a live run; a finished one stays as it is (``cancelled: false``)."""
        run = self.get(native_id)
        if run["status"] in _TERMINAL_RUNS:
            return {"cancelled": False, "executionId": native_id}
        now = max([int(time.time() * 1000), *_times(run)]) + 1
        for step in run["steps"]:
            if step["status"] not in _TERMINAL_STEPS:
                step.update(status="cancelled", completedAt=now)
        run.update(status="cancelled", cancelledAt=now)
        self._resuming.pop(native_id, None)
        return {"cancelled": True, "executionId": native_id}

    def resume(self, native_id: str) -> None:
        """Resume a run past its settled human steps now (what ``resumeScheduled`` promises)."""
        self._resuming.pop(native_id, None)
        run = self.get(native_id)
        now = max([int(time.time() * 1000), *(_times(run))]) + 1
        settled = [
            s
            for s in run["steps"]
            if s["status"] == "waiting" and s.get(_REVIEW, {}).get("settled") is not None
        ]
        for step in settled:
            _resume_step(step, now)
            _render(step, self.waiting_output)
        if settled:
            self._move_on(run, settled[-1], now)

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
        reply: JSON = {
            "recorded": False,
            "aggregatorStatus": _aggregator_status(step),
            "resumeScheduled": False,
        }
        review: JSON | None = step.get(_REVIEW)
        if review is not None and reviewer_id in review["votes"]:
            return {**reply, "rejectionReason": "idempotent"}
        settled = review is not None and review["settled"] is not None
        if run["status"] in _TERMINAL_RUNS or step["status"] in _TERMINAL_STEPS or settled:
            return {**reply, "rejectionReason": "already-terminal"}
        if step["nodeType"] != "human" or review is None:
            raise VeltError("FAILED_PRECONDITION", 400, "Step is not a human step")
        if step["status"] != "waiting":
            raise VeltError("FAILED_PRECONDITION", 400, "Step is not waiting for reviewers")
        if reviewer_id not in {user for user, _ in review["reviewers"]}:
            return {**reply, "rejectionReason": "unknown-responder"}

        now = max([int(time.time() * 1000), *_times(run)]) + 1
        _vote(step, reviewer_id, decision, now, reason)
        if _settle(review) is None:
            _render(step, self.waiting_output)
            return {"recorded": True, "aggregatorStatus": "pending", "resumeScheduled": False}
        outcome = _settle_step(step, now, self._rng)
        _render(step, self.waiting_output)
        if self.resume_after_reads > 0:
            self._resuming[execution_id] = self.resume_after_reads
        else:
            self.resume(execution_id)
        return {"recorded": True, "aggregatorStatus": outcome, "resumeScheduled": True}

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


def _times(run: JSON) -> list[int]:
    """Every time a run shows, so a live event is never placed before them."""
    found = [int(run["startedAt"])]
    for step in run["steps"]:
        found += [int(step[k]) for k in ("startedAt", "completedAt") if step.get(k) is not None]
    return found


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
    """The Velt endpoints the gateway uses, over ``store``."""

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
        return store.read(_string(data, "executionId") or "")

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

    def get_events(data: JSON) -> JSON:
        since = data.get("sinceSeq", 0)
        size = data.get("pageSize", 100)
        for name, value, low, high in (("sinceSeq", since, 0, 2**53), ("pageSize", size, 1, 500)):
            if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
                raise VeltError(
                    "INVALID_ARGUMENT", 400, f"data.{name} must be an integer in {low}..{high}"
                )
        return store.events(_string(data, "executionId") or "", since, size)

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

    def dispatch(data: JSON) -> JSON:
        context = data.get("triggerContext", {})
        if not isinstance(context, dict):
            raise VeltError("INVALID_ARGUMENT", 400, "data.triggerContext must be an object")
        keys = {}
        for name in ("idempotencyKey", "correlationId"):
            value = _string(data, name, required=False)
            if value is not None and not _KEY.fullmatch(value):
                raise VeltError("INVALID_ARGUMENT", 400, f"data.{name} must match {_KEY.pattern}")
            keys[name] = value
        return store.dispatch(
            _string(data, "definitionId") or "",
            keys["idempotencyKey"],
            keys["correlationId"],
            context,
        )

    def cancel(data: JSON) -> JSON:
        _string(data, "reason", required=False, limit=500)
        return store.cancel(_string(data, "executionId") or "")

    def get_definition(data: JSON) -> JSON:
        for scope in ("organizationId", "documentId"):
            _string(data, scope, required=False)
        return store.definition(_string(data, "definitionId") or "")

    return [
        Route("/v2/workflow/definitions/get", endpoint(get_definition), methods=["POST"]),
        Route("/v2/workflow/executions/dispatch", endpoint(dispatch), methods=["POST"]),
        Route("/v2/workflow/executions/cancel", endpoint(cancel), methods=["POST"]),
        Route("/v2/workflow/executions/get", endpoint(get_execution), methods=["POST"]),
        Route("/v2/workflow/executions/list", endpoint(list_executions), methods=["POST"]),
        Route("/v2/workflow/executions/getEvents", endpoint(get_events), methods=["POST"]),
        Route(
            "/v2/workflow/steps/recordReviewerDecision",
            endpoint(record_decision),
            methods=["POST"],
        ),
    ]
