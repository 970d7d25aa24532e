"""The decision use case's rarer endings (gateway/core/deciding.py), each one observed for real.

The sandbox is served on loopback behind ``Between``, an ASGI wrapper that runs one step just before
or just after one upstream request: another reviewer deciding through the upstream's own API in
the instant between the gateway's read and its write, the run vanishing, a read failing once the
decision is in. Written for issue #35: each test kills mutants ``test_deciding.py`` let live.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

import httpx
import pytest

from adapters.base import Decision
from adapters.errors import ExecutionNotFound, UpstreamConflict, UpstreamForbidden
from adapters.model import Approval, ApprovalStatus, Execution, ExecutionStatus
from gateway.core import deciding, ids
from gateway.core.caller import Caller
from gateway.core.loaders import Loaders
from gateway.core.runtime import Runtime
from gateway.core.scope import ClientScope
from sandbox import Sandbox, SandboxConfig, nesting, rotavision, velt
from tests.gateway.core.between import Between
from tests.serving import demo_config_with, serving

if TYPE_CHECKING:
    from collections.abc import AsyncIterator
    from pathlib import Path


RV_APPROVE = "POST /v1/orchestrate/executions/{execution_id}/approve"
RV_GET = "GET /v1/orchestrate/executions/{execution_id}"
VELT_DECIDE = "POST /v2/workflow/steps/recordReviewerDecision"
OPS = Caller("ops", frozenset({"viewer", "approver"}), "ops@example.com")
BRAND = Caller("brand", frozenset({"approver"}), "brand@example.com")
"""The optional reviewer of the sandbox's ``contract-review`` runs (lead has voted already)."""


class Upstream:
    """The sandbox behind ``Between``, the gateway's runtime in front, and its audit records."""

    def __init__(self, sandbox: Sandbox, between: Between, runtime: Runtime, audit: Path) -> None:
        self.sandbox = sandbox
        self.between = between
        self.runtime = runtime
        self.audit = audit

    def loaders(self) -> Loaders:
        return Loaders(self.runtime.store, self.runtime.stats)

    async def decide(
        self,
        approval_id: str,
        decision: Decision = Decision.APPROVE,
        *,
        caller: Caller = OPS,
        loaders: Loaders | None = None,
        notes: str | None = "ok",
    ) -> deciding.Result:
        request = deciding.DecisionRequest(approval_id, decision, notes, caller, "req-1")
        return await deciding.decide_approval(self.runtime, loaders or self.loaders(), request)

    async def another_reviewer_approves(self, native_id: str) -> None:
        """A decision made through Rotavision's own API, not through this gateway."""
        (key,) = self.sandbox.rotavision.api_keys
        transport = httpx.ASGITransport(app=self.between.app)
        async with httpx.AsyncClient(transport=transport, base_url="http://rv") as client:
            reply = await client.post(
                f"/v1/orchestrate/executions/{native_id}/approve",
                json={"approved": True, "notes": "someone else"},
                headers={"authorization": f"Bearer {key}"},
            )
        assert reply.status_code == 200, reply.text

    async def pending(self, source: str, native_id: str = rotavision.DEMO_WAITING_ID) -> str:
        """The id of the run's one pending approval, as read now."""
        execution = await self.loaders().execution(source, native_id)
        (approval,) = [a for a in execution.approvals if a.status is ApprovalStatus.PENDING]
        return ids.approval_id(source, native_id, approval.key)

    def fail_reads(self) -> None:
        self.sandbox.faults.update({"fail_rate": 1.0, "only": RV_GET})

    def calls(self, template: str) -> int:
        return self.sandbox.stats.calls[template]

    def records(self) -> list[dict[str, Any]]:
        return [json.loads(line) for line in self.audit.read_text().splitlines()]


@pytest.fixture
async def upstream(tmp_path: Path) -> AsyncIterator[Upstream]:
    sandbox = Sandbox(SandboxConfig(executions_per_source=40))
    between = Between(sandbox.app())
    audit = tmp_path / "audit.jsonl"
    async with serving(between, lifespan="off") as url:
        config = demo_config_with(
            url,
            audit={"file": str(audit)},
            cache={"active_ttl_s": 600.0},  # a cached copy outlives any test: only a read renews
            sources={"rv": {"retries": 0}},
        )
        runtime = Runtime(config)
        await runtime.start()
        try:
            yield Upstream(sandbox, between, runtime, audit)
        finally:
            await runtime.aclose()


def approve_path(native_id: str) -> str:
    return f"POST /v1/orchestrate/executions/{native_id}/approve"


def waiting_rv_runs(sandbox: Sandbox) -> list[str]:
    runs = sandbox.rotavision.executions.items()
    return [native_id for native_id, run in runs if run["status"] == "waiting_approval"]


async def test_two_different_approvals_are_two_decisions(upstream: Upstream) -> None:
    """Same caller, decision and notes: only the approval differs, and it alone keeps them apart
    (the single-flight key, the confirmation window and the upstream's idempotency key)."""
    first, second = waiting_rv_runs(upstream.sandbox)[:2]
    one = await upstream.decide(await upstream.pending("rv", first))
    other = await upstream.decide(await upstream.pending("rv", second))
    assert isinstance(one, deciding.Decided)
    assert isinstance(other, deciding.Decided)
    assert (one.execution.native_id, other.execution.native_id) == (first, second)
    assert upstream.calls(RV_APPROVE) == 2
    for native_id in (first, second):
        assert upstream.sandbox.rotavision.executions[native_id]["status"] != "waiting_approval"
    assert [r["outcome"] for r in upstream.records()] == ["decided", "decided"]


async def test_a_decision_made_elsewhere_since_the_read_is_a_409_answered_with_the_state_now(
    upstream: Upstream,
) -> None:
    native_id = rotavision.DEMO_WAITING_ID

    async def decided_elsewhere() -> None:
        await upstream.another_reviewer_approves(native_id)

    upstream.between.before[approve_path(native_id)] = decided_elsewhere
    result = await upstream.decide(await upstream.pending("rv"), Decision.REJECT)
    assert isinstance(result, deciding.NotWaiting)
    assert result.source == "rv"
    assert isinstance(result.upstream, UpstreamConflict)
    assert result.upstream.http_status == 409
    assert result.execution is not None
    assert result.execution.native_id == native_id
    assert result.execution.status is not ExecutionStatus.WAITING_FOR_APPROVAL
    assert result.approval is not None
    assert result.approval.status is ApprovalStatus.APPROVED  # the other reviewer's, re-read
    assert result.message == "the approval was already decided (APPROVED)"
    (record,) = upstream.records()
    assert record["outcome"] == "not_waiting"
    assert (record["upstream_status"], record["upstream_code"]) == (
        409,
        result.upstream.upstream_code,
    )
    assert "approval_status" not in record


async def test_a_409_whose_re_read_fails_is_still_not_waiting(upstream: Upstream) -> None:
    native_id = rotavision.DEMO_WAITING_ID

    async def decided_elsewhere_then_reads_fail() -> None:
        await upstream.another_reviewer_approves(native_id)
        upstream.fail_reads()

    upstream.between.before[approve_path(native_id)] = decided_elsewhere_then_reads_fail
    result = await upstream.decide(await upstream.pending("rv"))
    assert isinstance(result, deciding.NotWaiting)
    assert result == deciding.NotWaiting("rv", None, None, upstream=result.upstream)
    assert isinstance(result.upstream, UpstreamConflict)
    assert result.message == "the approval was already decided"
    (record,) = upstream.records()
    assert (record["outcome"], record["upstream_status"]) == ("not_waiting", 409)


async def test_a_run_gone_at_the_write_is_not_found_with_the_upstreams_404(
    upstream: Upstream,
) -> None:
    native_id = rotavision.DEMO_WAITING_ID

    async def vanish() -> None:
        del upstream.sandbox.rotavision.executions[native_id]

    upstream.between.before[approve_path(native_id)] = vanish
    result = await upstream.decide(await upstream.pending("rv"))
    assert isinstance(result, deciding.NotFound)
    assert result.source == "rv"
    assert isinstance(result.upstream, ExecutionNotFound)
    assert result.message == "no such approval"
    (record,) = upstream.records()
    assert record["outcome"] == "not_found"
    assert (record["upstream_status"], record["upstream_code"]) == (404, "execution_not_found")


async def test_a_failed_read_before_deciding_sends_nothing(upstream: Upstream) -> None:
    approval_id = await upstream.pending("rv")
    upstream.fail_reads()
    result = await upstream.decide(approval_id)
    assert isinstance(result, deciding.UpstreamFailed)
    assert (result.source, result.error.http_status) == ("rv", 503)
    assert upstream.calls(RV_APPROVE) == 0
    (record,) = upstream.records()
    assert (record["outcome"], record["source"], record["upstream_status"]) == (
        "upstream_failed",
        "rv",
        503,
    )


async def test_a_failed_read_after_deciding_answers_with_the_copy_read_before(
    upstream: Upstream,
) -> None:
    """The decision is in: success, with the pre-decision run and the status the upstream
    confirmed for the approval (not the PENDING the earlier copy shows)."""
    native_id = rotavision.DEMO_WAITING_ID
    approval_id = await upstream.pending("rv")

    async def reads_fail() -> None:
        upstream.fail_reads()

    upstream.between.after[approve_path(native_id)] = reads_fail
    result = await upstream.decide(approval_id, Decision.REJECT)
    assert isinstance(result, deciding.Decided)
    assert result.execution.status is ExecutionStatus.WAITING_FOR_APPROVAL  # as read before
    assert ids.approval_id("rv", native_id, result.approval.key) == approval_id
    assert result.approval.status is ApprovalStatus.REJECTED
    assert upstream.sandbox.rotavision.executions[native_id]["status"] != "waiting_approval"
    assert upstream.calls(RV_APPROVE) == 1
    (record,) = upstream.records()
    assert (record["outcome"], record["approval_status"]) == ("decided", "REJECTED")


async def test_a_stale_cached_copy_is_never_what_a_decision_is_checked_against(
    upstream: Upstream,
) -> None:
    """Cached in the store and in this request's loaders as waiting, decided upstream since: the
    gateway reads again, sees it decided and sends nothing."""
    native_id = rotavision.DEMO_WAITING_ID
    approval_id = await upstream.pending("rv")
    loaders = upstream.loaders()
    cached = await loaders.execution("rv", native_id)
    assert cached.status is ExecutionStatus.WAITING_FOR_APPROVAL
    assert upstream.runtime.store.cached("rv", native_id) is not None
    await upstream.another_reviewer_approves(native_id)
    result = await upstream.decide(approval_id, loaders=loaders)
    assert isinstance(result, deciding.NotWaiting)
    assert result.upstream is None  # seen before sending, not said by the upstream
    assert result.approval is not None
    assert result.approval.status is ApprovalStatus.APPROVED
    assert upstream.calls(RV_APPROVE) == 1  # the other reviewer's alone


async def test_a_vote_the_approval_shows_answers_a_repeat_without_a_call(
    upstream: Upstream,
) -> None:
    """Velt's ``contract-review`` runs wait for two mandatory reviewers and one optional one
    (``brand``); once brand approved, the counts pin brand's vote down, so brand asking again is
    answered by the rules alone: the same decision is already recorded, the other is refused."""
    loaders = upstream.loaders()
    approval_id = await brand_approval(upstream, loaders)
    first = await upstream.decide(approval_id, caller=BRAND)
    assert isinstance(first, deciding.Decided)
    assert first.approval.status is ApprovalStatus.PENDING
    sent = upstream.calls(VELT_DECIDE)
    assert sent == 1

    repeat = await upstream.decide(approval_id, caller=BRAND, notes="again")
    assert isinstance(repeat, deciding.AlreadyRecorded)
    assert repeat.source == "velt"
    assert ids.approval_id("velt", repeat.execution.native_id, repeat.approval.key) == approval_id
    assert repeat.approval.status is ApprovalStatus.PENDING
    turned = await upstream.decide(approval_id, Decision.REJECT, caller=BRAND)
    assert isinstance(turned, deciding.RecordedOtherwise)
    assert (turned.requested, turned.recorded) == (Decision.REJECT, Decision.APPROVE)
    assert (turned.source, turned.execution) == ("velt", repeat.execution)
    assert upstream.calls(VELT_DECIDE) == sent  # the rules answered both
    records = upstream.records()
    assert [(r["outcome"], r["approval_status"]) for r in records] == [
        ("vote_recorded", "PENDING"),
        ("already_recorded", "PENDING"),
        ("recorded_otherwise", "PENDING"),
    ]
    assert records[2]["recorded_decision"] == "APPROVE"
    assert "denial" not in records[1]


async def brand_approval(upstream: Upstream, loaders: Loaders) -> str:
    """The waiting ``contract-review`` approval brand may vote on (an optional reviewer)."""
    for native_id, run in upstream.sandbox.velt.executions.items():
        if run["status"] != "running" or run.get("definitionId") != "contract-review":
            continue
        execution = await loaders.execution("velt", native_id)
        for approval in execution.approvals:
            if approval.status is ApprovalStatus.PENDING and any(
                r.id == BRAND.reviewer_id and r.mandatory is False for r in approval.reviewers
            ):
                return ids.approval_id("velt", native_id, approval.key)
    raise AssertionError("the sandbox seeds no waiting contract-review run")


async def test_an_identical_late_vote_is_already_recorded_as_the_upstream_says(
    upstream: Upstream,
) -> None:
    """Velt answers a repeated vote "idempotent" (``DecisionOutcome.already_recorded``): the same
    decision reads as already recorded, the other as recorded otherwise, each with the run."""
    approval_id = await upstream.pending("velt", velt.DEMO_WAITING_ID)
    lead = Caller("lead", frozenset({"approver"}), "lead@example.com")
    assert isinstance(await upstream.decide(approval_id, caller=lead), deciding.Decided)
    repeat = await upstream.decide(approval_id, caller=lead, notes="other notes")
    assert isinstance(repeat, deciding.AlreadyRecorded)
    assert (repeat.source, repeat.execution.native_id) == ("velt", velt.DEMO_WAITING_ID)
    turned = await upstream.decide(approval_id, Decision.REJECT, caller=lead)
    assert isinstance(turned, deciding.RecordedOtherwise)
    assert (turned.source, turned.execution.native_id) == ("velt", velt.DEMO_WAITING_ID)
    assert upstream.calls(VELT_DECIDE) == 3
    assert [(r["outcome"], r["source"]) for r in upstream.records()] == [
        ("vote_recorded", "velt"),
        ("already_recorded", "velt"),
        ("recorded_otherwise", "velt"),
    ]


async def test_an_approval_outside_the_callers_scope_is_not_found_without_a_call(
    upstream: Upstream,
) -> None:
    """A request's loaders answer out of scope as absent before this rule is asked; the rule
    still holds where they did not (here: loaders without a scope, a partition not granted)."""
    approval_id = await upstream.pending("rv")
    scope = ClientScope.of({"rv": ["elsewhere"]})
    scoped = Caller("ops", OPS.roles, "ops@example.com", scope=scope)
    assert await upstream.decide(approval_id, caller=scoped) == deciding.NotFound("rv")
    assert upstream.calls(RV_APPROVE) == 0
    (record,) = upstream.records()
    assert (record["outcome"], record["source"]) == ("not_found", "rv")


async def test_a_rule_that_sees_it_decided_answers_with_the_run_read(upstream: Upstream) -> None:
    approval_id = await upstream.pending("rv")
    await upstream.another_reviewer_approves(rotavision.DEMO_WAITING_ID)
    result = await upstream.decide(approval_id)
    assert isinstance(result, deciding.NotWaiting)
    assert result.execution is not None
    assert result.execution.native_id == rotavision.DEMO_WAITING_ID
    (record,) = upstream.records()
    assert (record["outcome"], record["source"]) == ("not_waiting", "rv")
    assert "upstream_status" not in record


async def test_the_attempt_is_timed_by_the_clock_given(upstream: Upstream) -> None:
    readings = iter([100.0, 100.0123456])
    request = deciding.DecisionRequest("%", Decision.APPROVE, None, OPS, "req-9")
    await deciding.decide_approval(
        upstream.runtime, upstream.loaders(), request, clock=lambda: next(readings)
    )
    (record,) = upstream.records()
    assert record["duration_ms"] == 12.3


async def test_notes_at_the_bound_are_sent_and_a_bad_id_says_why(upstream: Upstream) -> None:
    assert isinstance(
        await upstream.decide(await upstream.pending("rv"), notes="n" * 2000), deciding.Decided
    )
    with pytest.raises(ids.InvalidId) as invalid:
        ids.parse_id("%")
    assert await upstream.decide("%") == deciding.InvalidInput("approvalId", str(invalid.value))
    unsupported = await upstream.decide(ids.approval_id("zaia", nesting.DEMO_TREE_ID, ""))
    assert isinstance(unsupported, deciding.Unsupported)
    unknown = await upstream.decide(ids.approval_id("nope", "x", ""))
    assert [(r["outcome"], r.get("source")) for r in upstream.records()] == [
        ("decided", "rv"),
        ("invalid", None),
        ("unsupported", "zaia"),
        ("invalid", "nope"),
    ]
    assert unknown == deciding.InvalidInput(
        "approvalId", "approvalId: unknown source 'nope'", "nope"
    )


def test_a_vote_on_record_the_upstream_does_not_name_is_audited_as_unknown() -> None:
    execution = Execution("e", ExecutionStatus.RUNNING, None, {})
    approval = Approval("k", ApprovalStatus.PENDING)
    result = deciding.RecordedOtherwise("velt", execution, approval, Decision.REJECT, None)
    assert result.message == (
        "this reviewer has already voted on this approval and the upstream does not say which "
        "way; the reject was not recorded"
    )
    assert deciding.audit_fields(result) == {
        "outcome": "recorded_otherwise",
        "source": "velt",
        "approval_status": "PENDING",
        "recorded_decision": None,
    }


async def test_a_reviewer_the_upstream_refuses_is_forbidden_with_its_refusal(
    tmp_path: Path,
) -> None:
    """Where the waiting step shows no reviewers (``waiting_output="empty"``) the gateway sends;
    Velt refuses a reviewer it does not know, named in the answer and the audit record."""
    sandbox = Sandbox(SandboxConfig(executions_per_source=5, velt_waiting_output="empty"))
    audit = tmp_path / "audit.jsonl"
    async with serving(sandbox.app(), lifespan="off") as url:
        runtime = Runtime(demo_config_with(url, audit={"file": str(audit)}))
        await runtime.start()
        try:
            checked = Upstream(sandbox, Between(sandbox.app()), runtime, audit)
            approval_id = await checked.pending("velt", velt.DEMO_WAITING_ID)
            stranger = Caller("x", frozenset({"approver"}), "stranger@example.com")
            result = await checked.decide(approval_id, caller=stranger)
        finally:
            await runtime.aclose()
    assert isinstance(result, deciding.Forbidden)
    assert result.source == "velt"
    assert result.message == (
        "the upstream does not accept decisions from reviewer 'stranger@example.com'"
    )
    assert isinstance(result.upstream, UpstreamForbidden)
    assert result.upstream.upstream_code is not None  # Velt's reason for not recording it
    (record,) = checked.records()
    assert record["outcome"] == "forbidden"
    assert (record["source"], record["upstream_code"]) == ("velt", result.upstream.upstream_code)
    assert record["upstream_status"] == result.upstream.http_status


async def test_decide_many_decides_each_once_in_order_and_refuses_a_repeat(
    upstream: Upstream,
) -> None:
    first, second = [await upstream.pending("rv", n) for n in waiting_rv_runs(upstream.sandbox)[:2]]
    requests = [
        deciding.DecisionRequest(approval_id, Decision.APPROVE, None, OPS, f"req-{n}")
        for n, approval_id in enumerate([first, second, first, "%" * 300, "%" * 300])
    ]
    results = await deciding.decide_many(upstream.runtime, upstream.loaders(), requests)
    assert [type(r) for r in results][:3] == [
        deciding.Decided,
        deciding.Decided,
        deciding.InvalidInput,
    ]
    assert results[2] == deciding.InvalidInput(
        "approvalId", "approvalId: named earlier in this call; it is decided once"
    )
    assert upstream.calls(RV_APPROVE) == 2
    records = sorted(upstream.records(), key=lambda r: r["request_id"])
    assert [r["outcome"] for r in records] == [
        "decided",
        "decided",
        "invalid",
        "invalid",
        "invalid",
    ]
    assert records[4]["approval"] == "%" * 200
    assert records[2] == {
        "event": "decision",
        "caller": "ops",
        "reviewer": "ops@example.com",
        "approval": first,
        "decision": "APPROVE",
        "request_id": "req-2",
        "outcome": "invalid",
        "duration_ms": 0.0,
    }


@pytest.mark.parametrize(("concurrency", "at_once"), [(1, 1), (None, 4)])
async def test_decide_many_keeps_to_its_concurrency(
    upstream: Upstream, concurrency: int | None, at_once: int
) -> None:
    """Four approvals, reads slowed down: one at a time with a bound of 1, all four at once
    under the default bound (8)."""
    runs = waiting_rv_runs(upstream.sandbox)[:4]
    requests = [
        deciding.DecisionRequest(await upstream.pending("rv", n), Decision.APPROVE, None, OPS, "r")
        for n in runs
    ]
    upstream.sandbox.faults.update({"latency_ms": 100, "only": RV_GET})
    upstream.sandbox.stats.max_in_flight = 0
    extra = {"concurrency": concurrency} if concurrency is not None else {}
    results = await deciding.decide_many(upstream.runtime, upstream.loaders(), requests, **extra)
    assert {type(r) for r in results} == {deciding.Decided}
    assert [r.execution.native_id for r in results if isinstance(r, deciding.Decided)] == runs
    assert upstream.sandbox.stats.max_in_flight == at_once
