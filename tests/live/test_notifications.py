"""Outbound notifications into a real receiver: signed as Standard Webhooks (verified with the
``standardwebhooks`` library), once per event, retried, counted, and never slowing the gateway."""

from __future__ import annotations

import time
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

import pytest

from adapters.model import (
    Approval,
    ApprovalStatus,
    ErrorInfo,
    Execution,
    ExecutionStatus,
)
from gateway.config import ConfigError, parse_config
from gateway.demo import demo_raw_config
from gateway.live.notify_events import Change, events_of
from gateway.state.memory import MemoryState
from sandbox.progress import Progress
from sandbox.webhooks import WebhookEvent
from tests.live.notify_support import (
    SECRET,
    SECRET_ENV,
    notifying_gateway,
    receiving,
    target,
)
from tests.live.support import eventually, running_id, send_webhook
from tests.serving import graphql

if TYPE_CHECKING:
    from gateway.live.notify import Notifier
    from sandbox import Sandbox
    from tests.live.support import Live

WAITING = "exec_wait0001"
"""The sandbox's Rotavision run waiting for approval (approved: it completes)."""


def notifier(live: Live) -> Notifier:
    assert live.hub.notifier is not None
    return live.hub.notifier


async def observe(live: Live, source: str, native_id: str) -> None:
    await live.hub.observe(source, await live.hub.read(source, native_id))


async def approve_waiting(live: Live) -> None:
    read = await graphql(live.http, f'{{ execution(id: "rv:{WAITING}") {{ approvals {{ id }} }} }}')
    approval = read["data"]["execution"]["approvals"][0]["id"]
    decided = await graphql(
        live.http,
        "mutation($a: ID!) { approve(input: {approvalId: $a}) { __typename } }",
        {"a": approval},
    )
    assert decided["data"]["approve"]["__typename"] == "DecisionSuccess"


async def test_each_event_reaches_the_receiver_signed_and_once(
    sandbox: Sandbox, sandbox_url: str
) -> None:
    async with (
        receiving() as receiver,
        notifying_gateway(sandbox, sandbox_url, [target(receiver)]) as live,
    ):
        await observe(live, "rv", WAITING)
        await eventually(lambda: len(receiver.deliveries) == 1, what="approval.requested")
        await approve_waiting(live)  # the decision's hook re-reads: resolved and completed
        await eventually(lambda: len(receiver.deliveries) == 3, what="resolved and completed")
        await observe(live, "rv", WAITING)  # nothing new: nothing sent
        await eventually(lambda: notifier(live).stats.sent["ops"] == 3, what="answered")
        # Two deliveries may be in flight to one receiver: the last two may arrive either way.
        payloads = {p["type"]: p for p in (d.verified() for d in receiver.deliveries)}
        assert sorted(payloads) == [
            "approval.requested",
            "approval.resolved",
            "execution.completed",
        ]
        assert receiver.deliveries[0].verified()["type"] == "approval.requested"
        assert payloads["approval.requested"]["data"]["approval"]["status"] == "PENDING"
        assert payloads["approval.resolved"]["data"]["approval"]["status"] == "APPROVED"
        assert payloads["execution.completed"]["data"]["executionId"] == f"rv:{WAITING}"
        assert payloads["execution.completed"]["data"]["status"] == "COMPLETED"
        ids = [d.webhook_id for d in receiver.deliveries]
        assert len(set(ids)) == 3
        assert all(i.startswith("evt_") for i in ids)
        assert len(receiver.deliveries) == 3


async def test_a_forged_or_altered_delivery_fails_the_receivers_verification(
    sandbox: Sandbox, sandbox_url: str
) -> None:
    from standardwebhooks import WebhookVerificationError

    async with (
        receiving() as receiver,
        notifying_gateway(sandbox, sandbox_url, [target(receiver)]) as live,
    ):
        await observe(live, "rv", WAITING)
        await eventually(lambda: len(receiver.deliveries) == 1, what="a delivery")
    delivery = receiver.deliveries[0]
    other = "whsec_" + "A" * 43 + "="
    with pytest.raises(WebhookVerificationError):
        delivery.verified(other)
    altered = type(delivery)(delivery.headers, delivery.body.replace(b"PENDING", b"APPROVED"))
    with pytest.raises(WebhookVerificationError):
        altered.verified()


async def test_a_webhook_driven_completion_is_told_and_sources_filter(
    sandbox: Sandbox, sandbox_url: str
) -> None:
    async with (
        receiving() as receiver,
        receiving() as velt_only,
        notifying_gateway(
            sandbox,
            sandbox_url,
            [target(receiver), target(velt_only, "velt-team", sources=["velt"])],
        ) as live,
    ):
        native = running_id(sandbox, "rotavision")
        assert Progress(sandbox).finish("rotavision", native)
        answer = await send_webhook(live, WebhookEvent("rotavision", native, "workflow.completed"))
        assert answer.json() == {"outcome": "accepted"}
        await eventually(lambda: len(receiver.deliveries) == 1, what="execution.completed")
        assert receiver.deliveries[0].verified()["data"]["executionId"] == f"rv:{native}"
        await eventually(lambda: notifier(live).queued["ops"] == 0, what="idle")
        assert velt_only.deliveries == []


async def test_a_receiver_that_fails_once_gets_the_event_again_with_the_same_id(
    sandbox: Sandbox, sandbox_url: str
) -> None:
    async with (
        receiving(answers=[500, 200]) as receiver,
        notifying_gateway(
            sandbox, sandbox_url, [target(receiver, events=["approval.requested"])]
        ) as live,
    ):
        await observe(live, "rv", WAITING)
        await eventually(lambda: notifier(live).stats.sent["ops"] == 1, what="sent")
        assert len(receiver.deliveries) == 2
        first, second = receiver.deliveries
        assert first.webhook_id == second.webhook_id
        assert first.verified() == second.verified()
        assert notifier(live).stats.failed["ops"] == 1
        metrics = (await live.http.get("/metrics")).text
        assert 'gateway_notifications_sent_total{target="ops"} 1.0' in metrics
        assert 'gateway_notifications_failed_total{target="ops"} 1.0' in metrics
        assert 'gateway_notifications_undeliverable_total{target="ops"} 0.0' in metrics


async def test_what_cannot_be_delivered_is_kept_counted_and_logged_once(
    sandbox: Sandbox, sandbox_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    async with (
        receiving(answers=[500, 503, 500]) as receiver,
        notifying_gateway(
            sandbox,
            sandbox_url,
            [target(receiver, events=["approval.requested"], max_attempts=3)],
        ) as live,
    ):
        await observe(live, "rv", WAITING)
        await eventually(lambda: notifier(live).stats.undeliverable["ops"] == 1, what="given up")
        assert len(receiver.deliveries) == 3
        metrics = (await live.http.get("/metrics")).text
        assert 'gateway_notifications_undeliverable_total{target="ops"} 1.0' in metrics
        assert 'gateway_notifications_failed_total{target="ops"} 3.0' in metrics
        assert 'gateway_notifications_sent_total{target="ops"} 0.0' in metrics
        [kept] = notifier(live).kept
        assert (kept.target, kept.type, kept.attempts, kept.error) == (
            "ops",
            "approval.requested",
            3,
            "HTTP 500",
        )
        assert kept.webhook_id == receiver.deliveries[0].webhook_id
    warnings = [r for r in caplog.records if r.getMessage() == "notification not delivered"]
    assert len(warnings) == 1


async def test_a_receiver_that_never_answers_does_not_slow_the_gateway(
    sandbox: Sandbox, sandbox_url: str
) -> None:
    async with (
        receiving(hang=True) as receiver,
        notifying_gateway(
            sandbox, sandbox_url, [target(receiver, timeout_s=30, max_attempts=1)]
        ) as live,
    ):
        started = time.monotonic()
        await observe(live, "rv", WAITING)  # publishing does not wait for the receiver
        assert time.monotonic() - started < 1.0
        await eventually(lambda: len(receiver.deliveries) == 1, what="a hanging request")
        for _ in range(5):
            started = time.monotonic()
            answer = await live.http.get("/healthz")
            assert answer.status_code == 200
            assert time.monotonic() - started < 1.0
        query = await graphql(live.http, f'{{ execution(id: "rv:{WAITING}") {{ status }} }}')
        assert query["data"]["execution"]["status"] == "WAITING_FOR_APPROVAL"
        assert notifier(live).stats.sent["ops"] == 0


async def test_an_attempt_is_cut_at_the_targets_timeout(sandbox: Sandbox, sandbox_url: str) -> None:
    async with (
        receiving(hang=True) as receiver,
        notifying_gateway(
            sandbox,
            sandbox_url,
            [target(receiver, events=["approval.requested"], timeout_s=0.2, max_attempts=2)],
        ) as live,
    ):
        await observe(live, "rv", WAITING)
        await eventually(lambda: notifier(live).stats.undeliverable["ops"] == 1, what="timeouts")
        assert len(receiver.deliveries) == 2
        assert notifier(live).kept[0].error == "no answer within 0.2 s"


async def test_a_slack_target_gets_a_signed_text_body(sandbox: Sandbox, sandbox_url: str) -> None:
    async with (
        receiving() as receiver,
        notifying_gateway(
            sandbox,
            sandbox_url,
            [target(receiver, "slack", format="slack", events=["approval.requested"])],
        ) as live,
    ):
        await observe(live, "rv", WAITING)
        await eventually(lambda: len(receiver.deliveries) == 1, what="a delivery")
    body = receiver.deliveries[0].verified()
    assert list(body) == ["text"]
    assert body["text"].startswith(f"Approval requested for rv:{WAITING}")


# -- which events a change holds (real shared state in memory) ----------------------------------


def run(status: ExecutionStatus, *approvals: Approval, error: ErrorInfo | None = None) -> Execution:
    return Execution("exec_1", status, None, {}, approvals=approvals, error=error)


PENDING = Approval("step_1", ApprovalStatus.PENDING, requested_at=datetime(2026, 1, 1, tzinfo=UTC))
APPROVED = Approval("step_1", ApprovalStatus.APPROVED, requested_at=PENDING.requested_at)


async def kinds(
    state: MemoryState, now: Execution, before: Execution | None, *, announce: bool = True
) -> list[str]:
    events = await events_of(Change("velt", now, before, announce, 0.0), state, 60.0)
    return [event.type for event in events]


async def test_a_resolution_is_told_only_for_an_approval_seen_pending() -> None:
    state = MemoryState()
    waiting = run(ExecutionStatus.RUNNING, PENDING)
    decided = run(ExecutionStatus.RUNNING, APPROVED)
    assert await kinds(state, decided, None) == []  # never seen pending: old news
    assert await kinds(state, waiting, None, announce=False) == []  # a poll's first look
    # Seen pending (remembered in the shared state), resolved where no previous version is known:
    assert await kinds(state, decided, None) == ["approval.resolved"]
    assert await kinds(state, decided, waiting) == ["approval.resolved"]
    assert await kinds(state, waiting, waiting) == []


async def test_a_terminal_status_is_told_when_it_is_new() -> None:
    state = MemoryState()
    failed = run(ExecutionStatus.FAILED, error=ErrorInfo("E1", "boom"))
    assert await kinds(state, failed, run(ExecutionStatus.RUNNING)) == ["execution.failed"]
    assert await kinds(state, failed, failed) == []
    assert await kinds(state, run(ExecutionStatus.CANCELLED), None) == []
    events = await events_of(Change("velt", failed, None, True, 0.0), state, 60.0)
    again = await events_of(Change("velt", failed, None, True, 99.0), state, 60.0)
    assert events[0].webhook_id == again[0].webhook_id  # derived from the event, not the moment


# -- the [[notifications]] section --------------------------------------------------------------


def config_problems(table: dict[str, Any], env: dict[str, str] | None = None) -> str:
    raw, demo_env = demo_raw_config("http://127.0.0.1:1")
    raw["notifications"] = [table]
    with pytest.raises(ConfigError) as raised:
        parse_config(raw, {**demo_env, **(env if env is not None else {SECRET_ENV: SECRET})})
    return str(raised.value)


BASE = {
    "name": "ops",
    "url": "https://hooks.example/in",
    "secret_env": SECRET_ENV,
    "events": ["execution.failed"],
}


def test_a_valid_target_parses() -> None:
    raw, env = demo_raw_config("http://127.0.0.1:1")
    raw["notifications"] = [{**BASE, "sources": ["rv"], "format": "slack"}]
    [parsed] = parse_config(raw, {**env, SECRET_ENV: SECRET}).notifications
    assert (parsed.name, parsed.sources, parsed.format, parsed.secret) == (
        "ops",
        frozenset({"rv"}),
        "slack",
        SECRET,
    )
    assert "whsec" not in repr(parsed)


@pytest.mark.parametrize(
    ("change", "problem"),
    [
        (
            {"evnts": ["execution.failed"]},
            "notification \"ops\": evnts: unknown key (did you mean 'events'?)",
        ),
        ({"events": ["approval.overdue"]}, "'approval.overdue' is not available yet"),
        ({"events": ["execution.faild"]}, "(did you mean 'execution.failed'?)"),
        ({"events": []}, "events: name at least one"),
        ({"sources": ["nope"]}, "sources: 'nope' is not a configured source"),
        ({"format": "teams"}, "format: 'teams' is not one of standard, slack"),
        ({"url": "ftp://x"}, "url: 'ftp://x' must be an http(s) URL"),
        ({"max_attempts": 0}, "max_attempts: must be positive"),
        ({"name": "Ops Team"}, "name: 'Ops Team' must match"),
    ],
)
def test_a_bad_target_is_named(change: dict[str, Any], problem: str) -> None:
    assert problem in config_problems({**BASE, **change})


def test_the_secret_must_be_set_and_a_standard_webhooks_secret() -> None:
    assert "environment variable NOTIFY_TEST_SECRET is not set" in config_problems(BASE, env={})
    assert "does not hold a Standard Webhooks secret" in config_problems(
        BASE, env={SECRET_ENV: "hunter2"}
    )
    short = "whsec_" + "QUJD"  # 3 bytes
    assert "does not hold a Standard Webhooks secret" in config_problems(
        BASE, env={SECRET_ENV: short}
    )


def test_a_missing_key_and_a_repeated_name_are_named() -> None:
    raw, env = demo_raw_config("http://127.0.0.1:1")
    raw["notifications"] = [{"name": "ops"}, BASE, BASE]
    with pytest.raises(ConfigError) as raised:
        parse_config(raw, {**env, SECRET_ENV: SECRET})
    problems = raised.value.problems
    assert 'notification "ops": url: missing (required)' in problems
    assert "notification #2: name: 'ops' is used twice; names must be unique" in problems


def test_an_environment_override_cannot_name_the_notifications() -> None:
    raw, env = demo_raw_config("http://127.0.0.1:1")
    with pytest.raises(ConfigError, match="GATEWAY__NOTIFICATIONS__URL: not an override"):
        parse_config(raw, {**env, "GATEWAY__NOTIFICATIONS__URL": "http://x"})


async def test_a_scoped_target_hears_only_its_partitions(
    sandbox: Sandbox, sandbox_url: str
) -> None:
    """A target with a scope (docs/scope.md) is told only what a client with it would see."""
    native = running_id(sandbox, "rotavision")
    workflow = sandbox.rotavision.executions[native]["workflow_id"]
    async with (
        receiving() as mine,
        receiving() as others,
        notifying_gateway(
            sandbox,
            sandbox_url,
            [
                target(mine, "mine", scope={"rv": [workflow]}),
                target(others, "others", scope={"rv": ["wf_nobody_runs"]}),
            ],
        ) as live,
    ):
        assert Progress(sandbox).finish("rotavision", native)
        answer = await send_webhook(live, WebhookEvent("rotavision", native, "workflow.completed"))
        assert answer.json() == {"outcome": "accepted"}
        await eventually(lambda: len(mine.deliveries) == 1, what="execution.completed")
        await eventually(lambda: notifier(live).queued["others"] == 0, what="idle")
        assert others.deliveries == []
