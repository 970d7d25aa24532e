"""Sending decisions (gateway/core/decisions.py): once per identical decision, over real HTTP.

The real Rotavision adapter talks to the sandbox on loopback; the sandbox counts the POSTs.
"""

from __future__ import annotations

import asyncio
import json
import logging
from typing import TYPE_CHECKING

import pytest

from adapters.base import Decision
from adapters.errors import UpstreamTimeout, UpstreamUnavailable
from adapters.model import ApprovalStatus
from gateway.core import ids
from gateway.core.caller import Caller
from gateway.core.decisions import (
    CONFIRMED_TTL_S,
    REPLICA_WAIT_S,
    AuditLog,
    DecisionAttempt,
    DecisionService,
    idempotency_key,
)
from gateway.core.runtime import Runtime
from gateway.state.memory import MemoryState
from sandbox import rotavision
from tests.serving import demo_config_with

if TYPE_CHECKING:
    from collections.abc import AsyncIterator
    from pathlib import Path

    from sandbox import Sandbox

APPROVE_POST = "POST /v1/orchestrate/executions/{execution_id}/approve"
OPS = Caller("ops", frozenset({"approver"}), "ops@example.com")


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


class Sender:
    """A DecisionService on the real runtime's adapters and store, with a clock the test moves."""

    def __init__(self, runtime: Runtime) -> None:
        self.runtime = runtime
        self.clock = Clock()
        self.service = DecisionService(
            runtime.adapters, runtime.store, AuditLog(None), timer=self.clock
        )

    async def approve(self, notes: str | None = "ok", caller: Caller = OPS) -> DecisionAttempt:
        native_id = rotavision.DEMO_WAITING_ID
        execution = (await self.runtime.store.load("rv", native_id))[0]
        (approval,) = execution.approvals
        return await self.service.decide(
            source="rv",
            execution=execution,
            approval=approval,
            approval_id=ids.approval_id("rv", native_id, approval.key),
            decision=Decision.APPROVE,
            caller=caller,
            notes=notes,
        )


@pytest.fixture
async def sender(sandbox_url: str) -> AsyncIterator[Sender]:
    runtime = Runtime(demo_config_with(sandbox_url, sources={"rv": {"retries": 0}}))
    await runtime.start()
    try:
        yield Sender(runtime)
    finally:
        await runtime.aclose()


def test_the_idempotency_key_is_stable_per_approval_and_decision() -> None:
    key = idempotency_key("A1", Decision.APPROVE)
    assert key == idempotency_key("A1", Decision.APPROVE)
    assert key.startswith("gw-")
    assert len(key) == 43
    assert key != idempotency_key("A1", Decision.REJECT)
    assert key != idempotency_key("A2", Decision.APPROVE)


async def test_identical_decisions_at_once_share_one_post(sender: Sender, sandbox: Sandbox) -> None:
    sandbox.faults.update({"latency_ms": 20})
    attempts = await asyncio.gather(*(sender.approve() for _ in range(10)))
    assert sandbox.stats.calls[APPROVE_POST] == 1
    assert {a.error for a in attempts} == {None}
    assert {a.outcome for a in attempts} == {attempts[0].outcome}


async def test_a_confirmed_decision_answers_repeats_until_its_window_ends(
    sender: Sender, sandbox: Sandbox
) -> None:
    first = await sender.approve()
    assert first.outcome is not None
    assert first.outcome.already_recorded is False
    sender.clock.now += CONFIRMED_TTL_S - 1
    repeat = await sender.approve()
    assert repeat.outcome is not None
    assert repeat.outcome.already_recorded is True
    assert sandbox.stats.calls[APPROVE_POST] == 1
    sender.clock.now += 2
    late = await sender.approve()
    assert sandbox.stats.calls[APPROVE_POST] == 2  # the window is over: asked again
    assert late == first  # the upstream replays its first answer for the idempotency key


async def test_other_notes_or_another_reviewer_are_another_decision(
    sender: Sender, sandbox: Sandbox
) -> None:
    sandbox.faults.update({"latency_ms": 20})
    lead = Caller("lead", frozenset({"approver"}), "lead@example.com")
    await asyncio.gather(sender.approve("a"), sender.approve("b"), sender.approve("a", lead))
    assert sandbox.stats.calls[APPROVE_POST] == 3


async def test_a_failure_is_not_kept_so_a_retry_retries(sender: Sender, sandbox: Sandbox) -> None:
    sandbox.faults.update({"fail_rate": 1.0, "only": "/approve"})
    failed = await sender.approve()
    assert isinstance(failed.error, UpstreamUnavailable)
    assert failed.outcome is None
    sent = sandbox.stats.calls[APPROVE_POST]  # the engine resends a keyed write after a 5xx
    sandbox.faults.update({"fail_rate": 0.0, "only": ""})
    retried = await sender.approve()
    assert retried.error is None
    assert retried.outcome is not None
    assert retried.outcome.approval_status is ApprovalStatus.APPROVED
    assert sandbox.stats.calls[APPROVE_POST] == sent + 1


async def test_every_attempt_drops_the_cached_execution(sender: Sender, sandbox: Sandbox) -> None:
    await sender.runtime.store.load("rv", rotavision.DEMO_WAITING_ID)
    sandbox.faults.update({"fail_rate": 1.0, "only": "/approve"})
    await sender.approve()  # loads it (cached), then fails upstream
    assert sender.runtime.store.cached("rv", rotavision.DEMO_WAITING_ID) is None


def test_the_audit_log_writes_one_json_line_per_record(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    path = tmp_path / "audit.jsonl"
    audit = AuditLog(path)
    with caplog.at_level(logging.INFO, logger="gateway.audit"):
        audit.record(caller="ops", outcome="decided")
        audit.record(caller="ui", outcome="forbidden")
    audit.close()
    lines = [json.loads(line) for line in path.read_text().splitlines()]
    assert lines == [
        {"event": "decision", "caller": "ops", "outcome": "decided"},
        {"event": "decision", "caller": "ui", "outcome": "forbidden"},
    ]
    assert [r.name for r in caplog.records] == ["gateway.audit", "gateway.audit"]


class Replicas:
    """Two DecisionServices on one runtime's adapters, sharing one state as two replicas would."""

    def __init__(self, runtime: Runtime, shared: MemoryState, *, instant: bool = False) -> None:
        self.slept: list[float] = []

        async def sleep(seconds: float) -> None:
            """Counts the waits; ``instant`` skips the time itself (for the give-up bound)."""
            self.slept.append(seconds)
            await asyncio.sleep(0 if instant else seconds)

        self.services = [
            DecisionService(
                runtime.adapters, runtime.store, AuditLog(None), shared=shared, sleep=sleep
            )
            for _ in range(2)
        ]
        self.sender = Sender(runtime)


async def approve_with(sender: Sender, service: DecisionService) -> DecisionAttempt:
    sender.service = service
    return await sender.approve()


async def test_replicas_send_an_identical_decision_once_and_share_its_confirmation(
    sender: Sender, sandbox: Sandbox
) -> None:
    shared = MemoryState()
    replicas = Replicas(sender.runtime, shared)
    sandbox.faults.update({"latency_ms": 30})
    first, second = await asyncio.gather(
        approve_with(Sender(sender.runtime), replicas.services[0]),
        approve_with(Sender(sender.runtime), replicas.services[1]),
    )
    assert sandbox.stats.calls[APPROVE_POST] == 1
    assert first.outcome is not None
    assert second.outcome is not None
    assert sorted([first.outcome.already_recorded, second.outcome.already_recorded]) == [
        False,
        True,
    ]
    assert replicas.slept  # the second replica waited for the first one's confirmation


async def test_a_replica_waits_a_bounded_time_for_another_then_reports_not_confirmed(
    sender: Sender, sandbox: Sandbox
) -> None:
    shared = MemoryState()
    replicas = Replicas(sender.runtime, shared, instant=True)
    # Another replica holds the lock and never confirms (it is stuck, or died mid-call).
    digest_keys = []

    original = shared.acquire

    async def acquire(key: str, owner: str, ttl_s: float) -> bool:
        digest_keys.append(key)
        if len(digest_keys) == 1:
            await original(key, "a-replica-that-hangs", ttl_s)
        return await original(key, owner, ttl_s)

    shared.acquire = acquire  # type: ignore[method-assign]
    attempt = await approve_with(Sender(sender.runtime), replicas.services[0])
    assert attempt.outcome is None
    assert isinstance(attempt.error, UpstreamTimeout)
    assert "another replica" in str(attempt.error)
    assert sum(replicas.slept) >= REPLICA_WAIT_S
    assert sandbox.stats.calls[APPROVE_POST] == 0
