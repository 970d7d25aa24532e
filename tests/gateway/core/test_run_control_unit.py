"""Run control's use cases (gateway/core/run_control.py), without GraphQL, against the sandbox.

The real runtime talks to the sandbox on loopback (behind ``Between`` where a test needs the
upstream to change between two calls) and writes its audit file; ``RunControl`` itself is also
driven directly, with a shared state whose clock the test moves, for what only time or another
replica can show. Written for issue #35: ``tests/e2e/test_run_control.py`` shows the same through
the API, but starts a gateway per test, too slow to judge a mutant.
"""

from __future__ import annotations

import asyncio
import json
from itertools import count
from typing import TYPE_CHECKING, Any

import pytest

from adapters.base import RunAction, StartRequest
from adapters.errors import (
    ExecutionNotFound,
    UpstreamAuthFailed,
    UpstreamBadResponse,
    UpstreamConflict,
    UpstreamError,
    UpstreamForbidden,
    UpstreamRateLimited,
    UpstreamRejected,
    UpstreamTimeout,
    UpstreamUnavailable,
)
from adapters.model import ExecutionStatus
from gateway.core import ids, run_control
from gateway.core.actions import AuditLog, digest
from gateway.core.caller import Caller
from gateway.core.loaders import Loaders
from gateway.core.run_control import RunControl, StartInput, StartRecord
from gateway.core.runtime import Runtime
from gateway.state.memory import MemoryState
from gateway.state.redis import RedisState
from sandbox import Sandbox, SandboxConfig, rotavision, truthlocks, velt
from tests.gateway.core.between import Between
from tests.serving import demo_config_with, serving

if TYPE_CHECKING:
    from collections.abc import AsyncIterator
    from pathlib import Path

RV_RUN = "POST /v1/orchestrate/workflows/{workflow_id}/run"
RV_CANCEL = "POST /v1/orchestrate/executions/{execution_id}/cancel"
RV_GET = "GET /v1/orchestrate/executions/{execution_id}"
VELT_DISPATCH = "POST /v2/workflow/executions/dispatch"
TL_EXECUTE = "POST /v1/orchestrations/execute"
OPS = Caller("ops", frozenset({"viewer", "operator"}))
DEV = Caller("dev", frozenset({"operator"}))


class Control:
    """The runtime in front of the sandbox, one request's loaders per attempt, the audit file."""

    def __init__(self, sandbox: Sandbox, between: Between, runtime: Runtime, audit: Path) -> None:
        self.sandbox = sandbox
        self.between = between
        self.runtime = runtime
        self.audit = audit
        self.ticks = count()

    def clock(self) -> float:
        """A quarter second per reading: every attempt takes exactly 250 ms."""
        return 10 + next(self.ticks) * 0.25

    def loaders(self) -> Loaders:
        return Loaders(self.runtime.store, self.runtime.stats)

    async def start(
        self,
        source: str = "rv",
        workflow_id: str | None = "wf_support_triage",
        inputs: Any = None,
        key: str = "k-1",
        *,
        caller: Caller = OPS,
        **more: Any,
    ) -> run_control.Result:
        request = StartInput(
            source,
            workflow_id,
            {"ticket": "T-1"} if inputs is None else inputs,
            key,
            caller,
            "req-1",
            **more,
        )
        return await run_control.start_execution(
            self.runtime, self.loaders(), request, clock=self.clock
        )

    async def cancel(
        self, execution_id: str, reason: str | None = None, *, caller: Caller = OPS
    ) -> run_control.Result:
        request = run_control.CancelRequest(execution_id, reason, caller, "req-2")
        return await run_control.cancel_execution(
            self.runtime, self.loaders(), request, clock=self.clock
        )

    async def rerun(
        self, execution_id: str, key: str = "re-1", *, caller: Caller = OPS
    ) -> run_control.Result:
        return await run_control.rerun_execution(
            self.runtime, self.loaders(), execution_id, key, caller, "req-3", clock=self.clock
        )

    def calls(self, template: str) -> int:
        return self.sandbox.stats.calls[template]

    def records(self) -> list[dict[str, Any]]:
        return [json.loads(line) for line in self.audit.read_text().splitlines()]

    def outcomes(self) -> list[str]:
        return [r["outcome"] for r in self.records()]


@pytest.fixture
async def control(tmp_path: Path) -> AsyncIterator[Control]:
    sandbox = Sandbox(SandboxConfig(executions_per_source=40))
    between = Between(sandbox.app())
    audit = tmp_path / "audit.jsonl"
    async with serving(between, lifespan="off") as url:
        config = demo_config_with(
            url,
            audit={"file": str(audit)},
            cache={"active_ttl_s": 600.0},
            sources={"rv": {"retries": 0}, "tl": {"retries": 0}},
        )
        runtime = Runtime(config)
        await runtime.start()
        try:
            yield Control(sandbox, between, runtime, audit)
        finally:
            await runtime.aclose()


def upstream_key(caller: str, source: str, client_key: str) -> str:
    """The key the gateway gives the upstream: per caller and source, in Velt's pattern."""
    return f"gw-{digest(caller, source, client_key)[:40]}"


# --- start ------------------------------------------------------------------------------------


async def test_a_start_is_sent_once_read_back_remembered_and_audited(control: Control) -> None:
    result = await control.start()
    assert isinstance(result, run_control.Started)
    (native_id,) = control.sandbox.rotavision.started
    assert (result.source, result.native_id) == ("rv", native_id)
    assert result.execution is not None
    assert (result.execution.native_id, result.execution.status) == (
        native_id,
        ExecutionStatus.RUNNING,
    )
    assert (result.replayed, result.deduplicated) == (False, False)
    assert control.sandbox.rotavision.executions[native_id]["inputs"] == {"ticket": "T-1"}
    assert upstream_key("ops", "rv", "k-1") in control.sandbox.rotavision.idempotent_replies
    assert await control.runtime.run_control.started_by("rv", native_id) == "ops"
    assert control.calls(RV_RUN) == 1
    assert control.records() == [
        {
            "event": "run_control",
            "caller": "ops",
            "action": "start",
            "run": "rv:wf_support_triage",
            "key": "k-1",
            "request_id": "req-1",
            "outcome": "started",
            "source": "rv",
            "execution": f"rv:{native_id}",
            "duration_ms": 250.0,
        }
    ]


async def test_a_key_answers_its_first_run_and_other_input_is_a_conflict(
    control: Control,
) -> None:
    first = await control.start()
    again = await control.start()
    assert isinstance(first, run_control.Started)
    assert isinstance(again, run_control.Started)
    assert (again.native_id, again.replayed) == (first.native_id, True)
    assert again.execution is not None
    other = await control.start(inputs={"ticket": "T-2"})
    assert other == run_control.KeyConflict("rv")
    assert other.message == "this idempotency key was used with other input; use a new key"
    for field in ("workflow_id", "agent_id", "correlation_id"):
        changed: dict[str, Any] = (
            {"workflow_id": "wf_lead_scoring"} if field == "workflow_id" else {}
        )
        extra: dict[str, Any] = {field: "x-1"} if field != "workflow_id" else {}
        assert await control.start(**changed, **extra) == run_control.KeyConflict("rv"), field
    assert control.calls(RV_RUN) == 1
    records = control.records()
    assert [r["outcome"] for r in records] == ["started", "started"] + ["key_conflict"] * 4
    assert records[1]["replayed"] is True
    assert "replayed" not in records[0]
    assert records[2] == {
        "event": "run_control",
        "caller": "ops",
        "action": "start",
        "run": "rv:wf_support_triage",
        "key": "k-1",
        "request_id": "req-1",
        "outcome": "key_conflict",
        "source": "rv",
        "duration_ms": 250.0,
    }


async def test_two_clients_with_equal_keys_start_two_runs(control: Control) -> None:
    mine = await control.start()
    theirs = await control.start(caller=DEV)
    assert isinstance(mine, run_control.Started)
    assert isinstance(theirs, run_control.Started)
    assert mine.native_id != theirs.native_id
    assert not theirs.replayed
    assert control.calls(RV_RUN) == 2
    assert await control.runtime.run_control.started_by("rv", theirs.native_id) == "dev"


async def test_a_velt_start_repeated_by_a_replica_without_memory_is_deduplicated_upstream(
    control: Control, tmp_path: Path
) -> None:
    """A second runtime (another replica, no shared state) sends the same key again: Velt
    answers with the first run and says so (``deduplicated``)."""
    args: dict[str, Any] = {
        "source": "velt",
        "workflow_id": "marketing-copy-approval",
        "inputs": {"doc": "d"},
    }
    first = await control.start(**args, correlation_id="corr-1")
    assert isinstance(first, run_control.Started)
    assert first.deduplicated is False
    view = control.sandbox.velt.executions[first.native_id]
    assert view["correlationId"] == "corr-1"
    assert view["idempotencyKey"] == upstream_key("ops", "velt", "k-1")
    other = Runtime(control.runtime.config)
    await other.start()
    try:
        request = StartInput(
            "velt",
            "marketing-copy-approval",
            {"doc": "d"},
            "k-1",
            OPS,
            "r",
            correlation_id="corr-1",
        )
        loaders = Loaders(other.store, other.stats)
        again = await run_control.start_execution(other, loaders, request)
    finally:
        await other.aclose()
    assert isinstance(again, run_control.Started)
    assert (again.native_id, again.deduplicated, again.replayed) == (first.native_id, True, False)
    assert control.calls(VELT_DISPATCH) == 2


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        pytest.param(
            {"caller": Caller("ui", frozenset({"viewer", "approver"}))},
            run_control.Forbidden("client 'ui' lacks the operator role"),
            id="no-operator-role",
        ),
        pytest.param(
            {"key": "a b"},
            run_control.InvalidInput(
                "idempotencyKey", "idempotencyKey: 1-200 letters, digits or : _ - . characters"
            ),
            id="key-with-a-space",
        ),
        pytest.param(
            {"key": "k" * 201},
            run_control.InvalidInput(
                "idempotencyKey", "idempotencyKey: 1-200 letters, digits or : _ - . characters"
            ),
            id="key-too-long",
        ),
        pytest.param(
            {"key": ""},
            run_control.InvalidInput(
                "idempotencyKey", "idempotencyKey: 1-200 letters, digits or : _ - . characters"
            ),
            id="key-empty",
        ),
        pytest.param(
            {"source": "n" * 150},
            run_control.InvalidInput("source", f"source: unknown source '{'n' * 100}'"),
            id="unknown-source",
        ),
        pytest.param(
            {"source": "zaia"},
            run_control.Unsupported(
                "zaia", RunAction.START, "source 'zaia' (nesting) cannot start runs"
            ),
            id="no-start",
        ),
        pytest.param(
            {"inputs": {"a": "x" * (64 * 1024 - 8)}},
            run_control.InvalidInput("inputs", "inputs: at most 65536 bytes as JSON"),
            id="inputs-too-big",
        ),
        pytest.param(
            {"correlation_id": "a b"},
            run_control.InvalidInput(
                "correlationId", "correlationId: the idempotency key's pattern"
            ),
            id="bad-correlation-id",
        ),
    ],
)
async def test_what_the_gateway_refuses_itself_costs_no_upstream_call(
    control: Control, args: dict[str, Any], expected: run_control.Result
) -> None:
    assert await control.start(**args) == expected
    assert control.sandbox.stats.total == 0
    (record,) = control.records()
    assert record["outcome"] == run_control.audit_fields(expected)["outcome"]
    assert record.get("source") == getattr(expected, "source", None)


async def test_the_bounds_themselves_are_allowed(control: Control) -> None:
    """A 200-character key of every allowed character, inputs of exactly 64 KiB as JSON."""
    key = ("aZ09:_-." * 25)[:200]
    inputs = {"a": "x" * (64 * 1024 - 9)}
    assert len(json.dumps(inputs)) == 64 * 1024
    result = await control.start(key=key, inputs=inputs, correlation_id="c:1_2-3.4")
    assert isinstance(result, run_control.Started)
    assert control.records()[0]["key"] == key


async def test_an_audit_record_shortens_long_names(control: Control) -> None:
    await control.start(source="zaia", workflow_id="w" * 300, key="k" * 300)
    await control.cancel("x" * 300)
    await control.rerun("y" * 300, key="z" * 300)
    start, cancel, rerun = control.records()
    assert (start["run"], start["key"]) == ("zaia:" + "w" * 200, "k" * 200)
    assert (cancel["run"], cancel["key"]) == ("x" * 200, None)
    assert (rerun["run"], rerun["key"]) == ("y" * 200, "z" * 200)
    assert (start["action"], cancel["action"], rerun["action"]) == ("start", "cancel", "rerun")
    assert (start["request_id"], cancel["request_id"], rerun["request_id"]) == (
        "req-1",
        "req-2",
        "req-3",
    )
    agent = await control.start(source="zaia", workflow_id=None, agent_id="agent-1")
    assert isinstance(agent, run_control.Unsupported)
    assert control.records()[-1]["run"] == "zaia:agent-1"


async def test_a_refused_start_is_typed_and_not_kept(control: Control) -> None:
    """Rotavision refuses an unknown workflow (404) and rate-limits (429): nothing happened,
    so the same key may be used again."""
    missing = await control.start(workflow_id="wf_nope", key="nf")
    assert isinstance(missing, run_control.NotFound)
    assert missing.message == "no such execution (or workflow) upstream"
    assert isinstance(missing.upstream, ExecutionNotFound)
    control.sandbox.faults.update({"mode": "rate_limit", "only": "run"})
    limited = await control.start(key="rl")
    assert isinstance(limited, run_control.UpstreamFailed)
    assert isinstance(limited.error, UpstreamRateLimited)
    control.sandbox.faults.update({"mode": "none", "only": ""})
    assert isinstance(await control.start(key="rl"), run_control.Started)
    records = control.records()
    assert [r["outcome"] for r in records] == ["not_found", "upstream_failed", "started"]
    assert (records[0]["upstream_status"], records[1]["upstream_status"]) == (404, 429)
    assert records[1]["upstream_code"] == (limited.error.upstream_code or limited.error.code)


async def test_an_unconfirmed_start_is_resent_only_where_the_upstream_takes_a_key(
    control: Control,
) -> None:
    """A 503 may or may not have started a run. Rotavision's own key keeps a resend to one run,
    so a retry sends again; Truthlocks takes none, so a retry with the key is not sent."""
    control.sandbox.faults.update({"fail_rate": 1.0, "only": "/run"})
    unsure = await control.start(key="u")
    assert isinstance(unsure, run_control.NotConfirmed)
    assert isinstance(unsure.error, UpstreamUnavailable)
    control.sandbox.faults.update({"fail_rate": 0.0, "only": ""})
    assert isinstance(await control.start(key="u"), run_control.Started)

    control.sandbox.faults.update({"fail_rate": 1.0, "only": "execute"})
    tl: dict[str, Any] = {
        "source": "tl",
        "workflow_id": None,
        "agent_id": "maip-agent:01JX",
        "key": "t",
    }
    first = await control.start(**tl)
    assert isinstance(first, run_control.NotConfirmed)
    control.sandbox.faults.update({"fail_rate": 0.0, "only": ""})
    retry = await control.start(**tl)
    assert isinstance(retry, run_control.NotConfirmed)
    assert isinstance(retry.error, UpstreamTimeout)
    assert "never confirmed" in str(retry.error)
    assert control.calls(TL_EXECUTE) == 1
    assert isinstance(await control.start(**{**tl, "key": "t2"}), run_control.Started)
    records = control.records()
    assert [r["outcome"] for r in records] == [
        "not_confirmed",
        "started",
        "not_confirmed",
        "not_confirmed",
        "started",
    ]
    assert records[0]["upstream_status"] == 503
    assert records[3]["upstream_code"] == "UPSTREAM_TIMEOUT"  # the gateway's own: none upstream


async def test_a_start_the_upstream_refuses_outright_is_not_kept_in_doubt(
    control: Control,
) -> None:
    """Truthlocks needs an agent, or a workflow and agents: refused before any call, and a
    corrected start with the same key goes out."""
    refused = await control.start(source="tl", workflow_id="wf-1", key="t")
    assert isinstance(refused, run_control.UpstreamFailed)
    assert isinstance(refused.error, UpstreamRejected)
    assert control.calls(TL_EXECUTE) == 0
    fixed = await control.start(source="tl", workflow_id="wf-1", agents=("a1",), key="t")
    assert isinstance(fixed, run_control.Started)
    assert control.calls(TL_EXECUTE) == 1


# --- cancel -----------------------------------------------------------------------------------


async def test_a_cancel_is_sent_once_and_the_run_read_after_it(control: Control) -> None:
    started = await control.start()
    assert isinstance(started, run_control.Started)
    execution_id = ids.execution_id("rv", started.native_id)
    cancelled = await control.cancel(execution_id, reason="typo")
    assert isinstance(cancelled, run_control.Cancelled)
    assert (cancelled.source, cancelled.native_id) == ("rv", started.native_id)
    assert cancelled.execution is not None
    assert cancelled.execution.status is ExecutionStatus.CANCELLED
    again = await control.cancel(execution_id)
    assert isinstance(again, run_control.AlreadyFinished)
    assert again.status is ExecutionStatus.CANCELLED
    assert again.message == (
        "the execution had already finished (CANCELLED); nothing was cancelled"
    )
    assert control.calls(RV_CANCEL) == 1
    _, cancel, finished = control.records()
    assert cancel == {
        "event": "run_control",
        "caller": "ops",
        "action": "cancel",
        "run": execution_id,
        "key": None,
        "request_id": "req-2",
        "outcome": "cancelled",
        "source": "rv",
        "execution": execution_id,
        "duration_ms": 250.0,
    }
    assert (finished["outcome"], finished["final_status"]) == ("already_finished", "CANCELLED")


async def test_a_run_cached_as_running_but_finished_upstream_is_not_cancelled(
    control: Control,
) -> None:
    started = await control.start()
    assert isinstance(started, run_control.Started)
    loaders = control.loaders()
    assert (await loaders.execution("rv", started.native_id)).status is ExecutionStatus.RUNNING
    control.sandbox.rotavision.executions[started.native_id]["status"] = "completed"
    request = run_control.CancelRequest(f"rv:{started.native_id}", None, OPS, "r")
    result = await run_control.cancel_execution(control.runtime, loaders, request)
    assert isinstance(result, run_control.AlreadyFinished)
    assert result.status is ExecutionStatus.COMPLETED
    assert control.calls(RV_CANCEL) == 0


@pytest.mark.parametrize(
    ("execution_id", "reason", "expected"),
    [
        pytest.param(
            f"rv:{rotavision.DEMO_WAITING_ID}",
            "r" * 501,
            run_control.InvalidInput("reason", "reason: at most 500 characters"),
            id="long-reason",
        ),
        pytest.param(
            ids.approval_id("rv", rotavision.DEMO_WAITING_ID, "k"),
            None,
            run_control.InvalidInput(
                "executionId", "executionId: expected an execution id (Execution.id)"
            ),
            id="an-approval-id",
        ),
        pytest.param(
            "nope:x1",
            None,
            run_control.InvalidInput("executionId", "executionId: unknown source 'nope'", "nope"),
            id="unknown-source",
        ),
        pytest.param(
            f"tl:{truthlocks.DEMO_COMPLETED_ID}",
            None,
            run_control.Unsupported(
                "tl", RunAction.CANCEL, "source 'tl' (truthlocks) cannot cancel"
            ),
            id="no-cancel",
        ),
    ],
)
async def test_a_cancel_refused_by_the_gateway_costs_no_call(
    control: Control, execution_id: str, reason: str | None, expected: run_control.Result
) -> None:
    assert await control.cancel(execution_id, reason) == expected
    assert control.sandbox.stats.total == 0
    (record,) = control.records()
    assert record.get("source") == getattr(expected, "source", None)


async def test_a_cancel_reason_at_the_bound_and_the_checks_in_order(control: Control) -> None:
    waiting = f"rv:{rotavision.DEMO_WAITING_ID}"
    assert isinstance(await control.cancel(waiting, "r" * 500), run_control.Cancelled)
    viewer = Caller("ui", frozenset({"viewer"}))
    refused = await control.cancel("%", "r" * 501, caller=viewer)
    assert refused == run_control.Forbidden("client 'ui' lacks the operator role")
    with pytest.raises(ids.InvalidId) as invalid:
        ids.parse_id("%")
    assert await control.cancel("%") == run_control.InvalidInput("executionId", str(invalid.value))


async def test_a_cancel_meets_a_missing_run_a_failed_read_and_a_failed_write(
    control: Control,
) -> None:
    missing = await control.cancel("rv:exec_nope")
    assert missing == run_control.NotFound("rv", "no such execution")
    control.sandbox.faults.update({"fail_rate": 1.0, "only": RV_GET})
    unread = await control.cancel(f"rv:{rotavision.DEMO_WAITING_ID}")
    assert isinstance(unread, run_control.UpstreamFailed)
    assert (unread.source, unread.error.http_status) == ("rv", 503)
    control.sandbox.faults.update({"fail_rate": 1.0, "only": "/cancel"})
    unsure = await control.cancel(f"rv:{rotavision.DEMO_WAITING_ID}")
    assert isinstance(unsure, run_control.NotConfirmed)
    assert unsure.error.http_status == 503
    assert [(r["outcome"], r.get("upstream_status")) for r in control.records()] == [
        ("not_found", None),
        ("upstream_failed", 503),
        ("not_confirmed", 503),
    ]


async def test_a_run_gone_at_the_cancel_is_not_found_with_the_upstreams_404(
    control: Control,
) -> None:
    native_id = rotavision.DEMO_WAITING_ID

    async def vanish() -> None:
        del control.sandbox.rotavision.executions[native_id]

    control.between.before[f"POST /v1/orchestrate/executions/{native_id}/cancel"] = vanish
    result = await control.cancel(f"rv:{native_id}")
    assert isinstance(result, run_control.NotFound)
    assert isinstance(result.upstream, ExecutionNotFound)
    (record,) = control.records()
    assert (record["outcome"], record["source"], record["upstream_status"]) == (
        "not_found",
        "rv",
        404,
    )


async def test_a_cancel_whose_read_after_fails_is_still_cancelled(control: Control) -> None:
    native_id = rotavision.DEMO_WAITING_ID

    async def reads_fail() -> None:
        control.sandbox.faults.update({"fail_rate": 1.0, "only": RV_GET})

    control.between.after[f"POST /v1/orchestrate/executions/{native_id}/cancel"] = reads_fail
    result = await control.cancel(f"rv:{native_id}")
    assert result == run_control.Cancelled("rv", native_id, None)
    assert control.sandbox.rotavision.executions[native_id]["status"] == "cancelled"
    (record,) = control.records()
    assert record["execution"] == f"rv:{native_id}"


# --- re-run -----------------------------------------------------------------------------------


async def test_a_finished_run_is_started_again_with_its_inputs(control: Control) -> None:
    execution_id = f"rv:{rotavision.DOC_EXAMPLE_ID}"
    result = await control.rerun(execution_id)
    assert isinstance(result, run_control.Started)
    original = control.sandbox.rotavision.executions[rotavision.DOC_EXAMPLE_ID]
    again = control.sandbox.rotavision.executions[result.native_id]
    assert (again["workflow_id"], again["inputs"]) == (original["workflow_id"], original["inputs"])
    assert upstream_key("ops", "rv", "re-1") in control.sandbox.rotavision.idempotent_replies
    repeat = await control.rerun(execution_id)
    assert isinstance(repeat, run_control.Started)
    assert (repeat.native_id, repeat.replayed) == (result.native_id, True)
    assert control.calls(RV_RUN) == 1
    first, second = control.records()
    assert first == {
        "event": "run_control",
        "caller": "ops",
        "action": "rerun",
        "run": execution_id,
        "key": "re-1",
        "request_id": "req-3",
        "outcome": "started",
        "source": "rv",
        "execution": f"rv:{result.native_id}",
        "duration_ms": 250.0,
    }
    assert second["replayed"] is True


async def test_a_run_cached_as_waiting_but_cancelled_since_is_re_run(control: Control) -> None:
    native_id = rotavision.DEMO_WAITING_ID
    loaders = control.loaders()
    assert (await loaders.execution("rv", native_id)).status is not ExecutionStatus.CANCELLED
    control.sandbox.rotavision.executions[native_id]["status"] = "cancelled"
    result = await run_control.rerun_execution(
        control.runtime, loaders, f"rv:{native_id}", "re-9", OPS, "r"
    )
    assert isinstance(result, run_control.Started)


@pytest.mark.parametrize(
    ("execution_id", "key", "expected"),
    [
        pytest.param(
            f"rv:{rotavision.DEMO_WAITING_ID}",
            "a b",
            run_control.InvalidInput(
                "idempotencyKey", "idempotencyKey: 1-200 letters, digits or : _ - . characters"
            ),
            id="bad-key",
        ),
        pytest.param(
            ids.approval_id("rv", rotavision.DEMO_WAITING_ID, "k"),
            "k",
            run_control.InvalidInput(
                "executionId", "executionId: expected an execution id (Execution.id)"
            ),
            id="an-approval-id",
        ),
        pytest.param(
            "nope:x1",
            "k",
            run_control.InvalidInput("executionId", "executionId: unknown source 'nope'", "nope"),
            id="unknown-source",
        ),
        pytest.param(
            f"velt:{velt.DOC_EXAMPLE_ID}",
            "k",
            run_control.Unsupported("velt", RunAction.RERUN, "source 'velt' (velt) cannot re-run"),
            id="no-rerun",
        ),
    ],
)
async def test_a_rerun_refused_by_the_gateway_costs_no_call(
    control: Control, execution_id: str, key: str, expected: run_control.Result
) -> None:
    assert await control.rerun(execution_id, key) == expected
    assert control.sandbox.stats.total == 0


async def test_a_rerun_needs_a_finished_run_that_shows_its_start(control: Control) -> None:
    viewer = Caller("ui", frozenset({"viewer"}))
    assert await control.rerun("%", caller=viewer) == run_control.Forbidden(
        "client 'ui' lacks the operator role"
    )
    waiting = await control.rerun(f"rv:{rotavision.DEMO_WAITING_ID}")
    assert isinstance(waiting, run_control.NotFinished)
    assert waiting.execution.native_id == rotavision.DEMO_WAITING_ID
    assert waiting.message == "the execution is still WAITING_FOR_APPROVAL; re-run a finished one"
    prose = await control.rerun(f"tl:{truthlocks.DEMO_COMPLETED_ID}")
    assert prose == run_control.Unsupported(
        "tl",
        RunAction.RERUN,
        "source 'tl' does not show what started this run, so it cannot be re-run",
    )
    assert await control.rerun("rv:exec_nope") == run_control.NotFound("rv", "no such execution")
    control.sandbox.faults.update({"fail_rate": 1.0, "only": RV_GET})
    unread = await control.rerun(f"rv:{rotavision.DOC_EXAMPLE_ID}")
    assert isinstance(unread, run_control.UpstreamFailed)
    assert (unread.source, unread.error.http_status) == ("rv", 503)
    assert control.calls(RV_RUN) + control.calls(TL_EXECUTE) == 0
    assert [r["outcome"] for r in control.records()] == [
        "forbidden",
        "not_finished",
        "unsupported",
        "not_found",
        "upstream_failed",
    ]


# --- how upstream failures read -----------------------------------------------------------------


@pytest.mark.parametrize(
    ("error", "kind"),
    [
        (ExecutionNotFound("gone", http_status=404), run_control.NotFound),
        (UpstreamForbidden("no", http_status=403), run_control.Forbidden),
        (UpstreamAuthFailed("no", http_status=403), run_control.Forbidden),
        (UpstreamAuthFailed("who?", http_status=401), run_control.UpstreamFailed),
        (UpstreamTimeout("slow"), run_control.NotConfirmed),
        (UpstreamBadResponse("garbled", http_status=200), run_control.NotConfirmed),
        (UpstreamUnavailable("503", http_status=503), run_control.NotConfirmed),
        (UpstreamUnavailable("refused"), run_control.UpstreamFailed),
        (UpstreamConflict("state", http_status=409), run_control.UpstreamFailed),
        (UpstreamRateLimited("slow down", http_status=429), run_control.UpstreamFailed),
    ],
)
def test_an_upstream_failure_reads_as_what_it_may_mean(
    error: UpstreamError, kind: type[run_control.Result]
) -> None:
    result = run_control._failed("rv", error)
    assert type(result) is kind
    assert run_control.audit_fields(result)["upstream_status"] == error.http_status
    if isinstance(result, run_control.Forbidden):
        assert result == run_control.Forbidden(
            "the upstream does not allow this action", "rv", error
        )


def test_audit_fields_name_the_upstreams_code_or_else_the_gateways() -> None:
    coded = run_control.UpstreamFailed("rv", UpstreamRateLimited(upstream_code="rate_limited"))
    assert run_control.audit_fields(coded) == {
        "outcome": "upstream_failed",
        "source": "rv",
        "upstream_status": None,
        "upstream_code": "rate_limited",
    }
    plain = run_control.NotConfirmed("tl", UpstreamTimeout("slow"))
    assert run_control.audit_fields(plain)["upstream_code"] == "UPSTREAM_TIMEOUT"
    assert run_control.audit_fields(run_control.InvalidInput("reason", "r")) == {
        "outcome": "invalid"
    }


# --- RunControl across replicas, and with the shared state away ----------------------------------


class Moment:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def replica(runtime: Runtime, shared: MemoryState, slept: list[float]) -> RunControl:
    """Another replica's RunControl on the same upstreams and shared state; its waits are
    counted and take no time."""

    async def sleep(seconds: float) -> None:
        slept.append(seconds)
        await asyncio.sleep(0)

    return RunControl(runtime.adapters, runtime.store, shared, AuditLog(None), sleep=sleep)


def start_request(key: str = "gw-k") -> StartRequest:
    return StartRequest(workflow_id="wf_support_triage", inputs={}, idempotency_key=key)


async def test_replicas_start_once_and_a_key_answers_for_a_day(control: Control) -> None:
    moment = Moment()
    shared = MemoryState(clock=moment)
    slept: list[float] = []
    one, two = replica(control.runtime, shared, slept), replica(control.runtime, shared, slept)
    first = await one.start("rv", start_request(), "gw-k", "fp", "attempt-1")
    assert isinstance(first, StartRecord)
    assert (first.fingerprint, first.source, first.attempt) == ("fp", "rv", "attempt-1")
    moment.now += run_control.START_KEY_TTL_S - 1
    second = await two.start("rv", start_request(), "gw-k", "fp", "attempt-2")
    assert second == first  # the first replica's record: attempt-1's run
    assert control.calls(RV_RUN) == 1
    moment.now += 2
    # A day later the key is forgotten here; the upstream's own key still answers its run.
    later = await two.start("rv", start_request(), "gw-k", "fp", "attempt-3")
    assert isinstance(later, StartRecord)
    assert (later.native_id, later.attempt) == (first.native_id, "attempt-3")
    assert control.calls(RV_RUN) == 2
    assert slept == []


async def test_the_starter_is_remembered_for_thirty_days(control: Control) -> None:
    moment = Moment()
    control_here = replica(control.runtime, MemoryState(clock=moment), [])
    await control_here.record_starter("rv", "exec_1", "ops")
    moment.now += 30 * 24 * 3600 - 1
    assert await control_here.started_by("rv", "exec_1") == "ops"
    assert await control_here.started_by("rv", "exec_2") is None
    assert await control_here.started_by("velt", "exec_1") is None
    moment.now += 2
    assert await control_here.started_by("rv", "exec_1") is None


async def test_a_replica_waits_a_bounded_time_for_another_that_holds_the_start(
    control: Control,
) -> None:
    shared = MemoryState()
    slept: list[float] = []
    waiting = replica(control.runtime, shared, slept)
    assert await shared.acquire("run:lock:start:gw-k", "a-replica-that-hangs", 60.0)
    answer = await waiting.start("rv", start_request(), "gw-k", "fp", "a")
    assert isinstance(answer, UpstreamTimeout)
    assert answer.detail == (
        "another replica is starting this run and the upstream has not confirmed it yet; ask "
        "again with the same key to see its result"
    )
    assert answer.source == "rv"
    assert sum(slept) >= run_control.REPLICA_WAIT_S
    assert set(slept) == {run_control.REPLICA_POLL_S}
    assert control.calls(RV_RUN) == 0
    cancel_lock = f"run:lock:cancel:{digest('rv', 'exec_9')}"
    assert await shared.acquire(cancel_lock, "a-replica-that-hangs", 60.0)
    cancelling = await waiting.cancel("rv", "exec_9", None)
    assert isinstance(cancelling, UpstreamTimeout)
    assert cancelling.detail == (
        "another replica is cancelling this run and the upstream has not confirmed it yet; read "
        "the run to see its state"
    )
    assert (cancelling.source, cancelling.native_id) == ("rv", "exec_9")


async def test_a_confirmed_cancel_answers_another_replica_for_a_minute(control: Control) -> None:
    moment = Moment()
    shared = MemoryState(clock=moment)
    one, two = replica(control.runtime, shared, []), replica(control.runtime, shared, [])
    native_id = rotavision.DEMO_WAITING_ID
    sent: list[tuple[str, str]] = []
    one.on_sent.append(lambda source, run: sent.append((source, run)))
    assert await one.cancel("rv", native_id, None) == run_control.CancelRecord("rv", native_id)
    assert sent == [("rv", native_id)]
    moment.now += run_control.CANCEL_CONFIRMED_TTL_S - 1
    assert await two.cancel("rv", native_id, None) == run_control.CancelRecord("rv", native_id)
    assert control.calls(RV_CANCEL) == 1
    moment.now += 2
    await two.cancel("rv", native_id, None)
    assert control.calls(RV_CANCEL) == 2


async def test_identical_starts_at_once_share_one_call(control: Control) -> None:
    control.sandbox.faults.update({"latency_ms": 50, "only": "/run"})
    results = await asyncio.gather(*(control.start() for _ in range(5)))
    assert {type(r) for r in results} == {run_control.Started}
    assert control.calls(RV_RUN) == 1
    assert sum(not r.replayed for r in results if isinstance(r, run_control.Started)) == 1


async def test_with_the_shared_state_away_only_a_keyed_upstream_is_started(
    control: Control,
) -> None:
    """Redis unreachable: Rotavision's own key keeps a start to one run, so it is sent;
    Truthlocks takes none, so nothing is; a cancel is sent (cancelling twice is harmless)."""
    away = RedisState("redis://127.0.0.1:9/0", timeout_s=0.2)
    try:
        control_away = RunControl(
            control.runtime.adapters, control.runtime.store, away, AuditLog(None)
        )
        started = await control_away.start("rv", start_request(), "gw-k", "fp", "a")
        assert isinstance(started, StartRecord)
        tl = StartRequest(workflow_id=None, inputs={}, idempotency_key="gw-t", agent_id="x")
        refused = await control_away.start("tl", tl, "gw-t", "fp", "a")
        assert isinstance(refused, UpstreamUnavailable)
        assert refused.http_status is None
        assert refused.source == "tl"
        assert "not started" in str(refused)
        cancelled = await control_away.cancel("rv", rotavision.DEMO_WAITING_ID, None)
        assert cancelled == run_control.CancelRecord("rv", rotavision.DEMO_WAITING_ID)
    finally:
        await away.aclose()
    assert (control.calls(RV_RUN), control.calls(TL_EXECUTE), control.calls(RV_CANCEL)) == (1, 0, 1)
