"""The Rotavision-style sandbox, driven in-process by the real RotavisionAdapter."""

from __future__ import annotations

import httpx

from adapters.base import Credentials, Decision
from adapters.engine import HTTPSettings
from adapters.model import ApprovalStatus, ExecutionStatus
from adapters.rotavision import RotavisionAdapter
from gateway.core import ids
from sandbox import SANDBOX_CREDENTIALS, Sandbox, summary
from sandbox.rotavision import DEMO_ASKED_TWICE_ID


def make_adapter(sandbox: Sandbox) -> RotavisionAdapter:
    adapter = RotavisionAdapter.create(
        name="rv",
        base_url="http://sandbox",
        credentials=Credentials(api_key=SANDBOX_CREDENTIALS["rotavision"]["api_key"]),
        settings=HTTPSettings(),
        transport=httpx.ASGITransport(app=sandbox.app()),
    )
    assert isinstance(adapter, RotavisionAdapter)
    return adapter


async def test_a_human_step_asked_twice_gives_two_approvals_with_distinct_ids() -> None:
    sandbox = Sandbox()
    adapter = make_adapter(sandbox)
    try:
        execution = await adapter.get_execution(DEMO_ASKED_TWICE_ID)
        assert execution.status is ExecutionStatus.WAITING_FOR_APPROVAL
        earlier, pending = execution.approvals
        assert (earlier.status, pending.status) == (ApprovalStatus.APPROVED, ApprovalStatus.PENDING)
        global_ids = {ids.approval_id("rv", DEMO_ASKED_TWICE_ID, a.key) for a in (earlier, pending)}
        assert len(global_ids) == 2

        outcome = await adapter.decide(
            execution,
            pending,
            Decision.REJECT,
            reviewer_id="ops@example.com",
            notes="no credit",
            idempotency_key="k-twice",
        )
        assert outcome.recorded_decision is Decision.REJECT
        after = await adapter.get_execution(DEMO_ASKED_TWICE_ID)
    finally:
        await adapter.aclose()
    assert after.status is ExecutionStatus.COMPLETED
    assert [(a.key, a.status) for a in after.approvals] == [
        (earlier.key, ApprovalStatus.APPROVED),
        (pending.key, ApprovalStatus.REJECTED),
    ]


def test_the_summary_names_every_kind_with_its_credentials() -> None:
    text = summary("http://127.0.0.1:9999/")
    assert text.splitlines()[0] == "sandbox upstreams listening on http://127.0.0.1:9999"
    for kind, credentials in SANDBOX_CREDENTIALS.items():
        assert kind in text
        assert all(value in text for value in credentials.values())
    assert "http://127.0.0.1:9999/v2/workflow" in text
    assert "x-velt-auth-token: " in text
    assert "list order desc" in text
