"""Run control's details ``test_run_control_unit.py`` let change (gateway/core/run_control.py).

Written for issue #35 against the mutants that survived it: the fingerprint's exact form, the
source every result names, what reaches the upstream (a cancel's reason, a re-run's agents), the
single-flight keys, the record a start in doubt leaves, the starter left unrecorded while the
shared state is away, the audit's rounding. Same setting as the unit tests: the real runtime in
front of the sandbox on loopback, or ``RunControl`` driven directly where only another replica or
two calls at once can show it.
"""

from __future__ import annotations

import asyncio
import json
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from adapters.base import StartRequest
from adapters.errors import UpstreamTimeout, UpstreamUnavailable
from adapters.model import ExecutionStatus
from gateway.core import run_control
from gateway.core.actions import AuditLog, digest
from gateway.core.caller import Caller
from gateway.core.run_control import RunControl, StartInput, StartRecord
from gateway.state.codec import decode_record, encode_record
from gateway.state.memory import MemoryState
from gateway.state.redis import RedisState
from sandbox import rotavision, truthlocks, velt
from tests.gateway.core import test_run_control_unit
from tests.gateway.core.test_run_control_unit import (
    OPS,
    RV_CANCEL,
    RV_GET,
    RV_RUN,
    TL_EXECUTE,
    Control,
    replica,
    start_request,
    upstream_key,
)

if TYPE_CHECKING:
    from collections.abc import Mapping

    from starlette.types import ASGIApp, Message, Receive, Scope, Send

    from adapters.base import SourceAdapter
    from gateway.config import SourceConfig
    from gateway.core.store import ExecutionStore


control = test_run_control_unit.control
"""The unit tests' fixture: the runtime in front of the sandbox, behind ``Between``."""

VELT_CANCEL = "POST /v2/workflow/executions/cancel"
RV_RUN_TRIAGE = "POST /v1/orchestrate/workflows/wf_support_triage/run"
TRIAGE_FINGERPRINT = "0193bf76347ef321a997a54b5499a014d538d93c43899f54983cb3796b8edbe4"
"""The fingerprint of the unit tests' default start (Rotavision, ``wf_support_triage``,
``{"ticket": "T-1"}``)."""
TL_AGENT = StartRequest(workflow_id=None, inputs={}, idempotency_key="gw-t", agent_id="agent-1")


class Bodies:
    """The sandbox app, keeping every request's body by ``"METHOD /path"``: what the upstream
    was sent, read where it arrives."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app
        self.seen: dict[str, list[bytes]] = {}

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        chunks: list[bytes] = []

        async def tap() -> Message:
            message = await receive()
            if message["type"] == "http.request":
                chunks.append(message.get("body", b""))
            return message

        await self.app(scope, tap, send)
        if scope["type"] == "http":
            request = f"{scope['method']} {scope['path']}"
            self.seen.setdefault(request, []).append(b"".join(chunks))


def bodies(control: Control) -> Bodies:
    recorder = Bodies(control.between.app)
    control.between.app = recorder
    return recorder


@dataclass(frozen=True)
class Away:
    """The runtime's parts with a RunControl whose shared state cannot be reached."""

    sources: Mapping[str, SourceConfig]
    adapters: Mapping[str, SourceAdapter]
    store: ExecutionStore
    run_control: RunControl


# --- the fingerprint ------------------------------------------------------------------------------


def test_the_fingerprint_of_a_fixed_start_never_changes() -> None:
    """The fingerprint is kept with the start key in the shared state for a day, and every replica
    compares its own against it. A rolling deploy that changed it (a renamed field, another key
    order or spacing) would answer a client's repeated start with KeyConflict whenever the repeat
    reached a replica on the other version: pinned to its exact value, and to the JSON it digests.
    """
    triage = StartRequest(
        workflow_id="wf_support_triage", inputs={"ticket": "T-1"}, idempotency_key="gw-1"
    )
    assert run_control._fingerprint("rv", triage) == TRIAGE_FINGERPRINT
    plain = (
        '{"agent":null,"agents":[],"correlation":null,"inputs":{"ticket":"T-1"},'
        '"source":"rv","workflow":"wf_support_triage"}'
    )
    assert digest(plain) == TRIAGE_FINGERPRINT
    # The upstream key is not part of it: the same input under another caller's key is the same.
    assert run_control._fingerprint("rv", triage) == run_control._fingerprint(
        "rv",
        StartRequest(
            workflow_id="wf_support_triage", inputs={"ticket": "T-1"}, idempotency_key="x"
        ),
    )


def test_the_fingerprint_reads_inputs_in_any_key_order_and_any_value() -> None:
    """Equal inputs are one fingerprint whatever order their keys came in; a value JSON cannot
    hold reads as its text, as the size check reads it (never a crash after that check)."""

    def of(inputs: Any) -> str:
        return run_control._fingerprint(
            "rv", StartRequest(workflow_id="wf", inputs=inputs, idempotency_key="k")
        )

    assert of({"a": 1, "b": {"c": 2, "d": 3}}) == of({"b": {"d": 3, "c": 2}, "a": 1})
    moment = datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)
    assert of({"at": moment}) == of({"at": str(moment)})


async def test_the_record_a_start_keeps_holds_the_fixed_fingerprint(control: Control) -> None:
    """The record the other replicas read names the input by that same fingerprint."""
    result = await control.start()
    assert isinstance(result, run_control.Started)
    confirmed = f"run:confirmed:start:{upstream_key('ops', 'rv', 'k-1')}"
    payload = await control.runtime.state.get(confirmed)
    assert payload is not None
    record = decode_record(StartRecord, payload)
    assert record is not None
    assert (record.fingerprint, record.source, record.native_id) == (
        TRIAGE_FINGERPRINT,
        "rv",
        result.native_id,
    )


# --- starts -------------------------------------------------------------------------------------


async def test_two_different_starts_at_once_are_two_flights(control: Control) -> None:
    """Single flight joins starts with one key only: two keys at the same moment are two runs."""
    one, two = await asyncio.gather(control.start(key="k-a"), control.start(key="k-b"))
    assert isinstance(one, run_control.Started)
    assert isinstance(two, run_control.Started)
    assert one.native_id != two.native_id
    assert (one.replayed, two.replayed) == (False, False)
    assert control.calls(RV_RUN) == 2


async def test_a_start_answered_with_a_cached_run_drops_the_cached_copy(control: Control) -> None:
    """Rotavision's own key answers a repeated start with the first run. A replica with no record
    of the key sends it again; the run it gets back may sit in this gateway's cache, older than
    the upstream's: the start drops that copy, so the next read sees the run as it is, and the
    live layer hears of the start (``on_sent``)."""
    first = await replica(control.runtime, MemoryState(), []).start(
        "rv", start_request(), "gw-k", "fp", "a-1"
    )
    assert isinstance(first, StartRecord)
    assert first.native_id is not None
    native_id = first.native_id
    cached = await control.loaders().execution("rv", native_id)
    assert cached.status is ExecutionStatus.RUNNING
    control.sandbox.rotavision.executions[native_id]["status"] = "completed"
    other = replica(control.runtime, MemoryState(), [])
    sent: list[tuple[str, str]] = []
    other.on_sent.append(lambda source, run: sent.append((source, run)))
    again = await other.start("rv", start_request(), "gw-k", "fp", "a-2")
    assert isinstance(again, StartRecord)
    assert again.native_id == native_id
    assert sent == [("rv", native_id)]
    now = await control.loaders().execution("rv", native_id)
    assert now.status is ExecutionStatus.COMPLETED
    assert control.calls(RV_RUN) == 2


async def test_a_start_in_doubt_is_kept_for_the_other_replicas(control: Control) -> None:
    """Truthlocks takes no key: a start its 503 left unconfirmed is kept as in doubt, with its
    source, so another replica answers with that record instead of starting a second run."""
    shared = MemoryState()
    one, two = replica(control.runtime, shared, []), replica(control.runtime, shared, [])
    control.sandbox.faults.update({"fail_rate": 1.0, "only": "execute"})
    unsure = await one.start("tl", TL_AGENT, "gw-t", "fp", "a-1")
    assert isinstance(unsure, UpstreamUnavailable)
    assert unsure.http_status == 503
    control.sandbox.faults.update({"fail_rate": 0.0, "only": ""})
    kept = await two.start("tl", TL_AGENT, "gw-t", "fp", "a-2")
    assert kept == StartRecord("fp", "tl", None, in_doubt=True)
    assert control.calls(TL_EXECUTE) == 1


async def test_a_retried_start_in_doubt_names_its_source_and_says_why(control: Control) -> None:
    tl: dict[str, Any] = {"source": "tl", "workflow_id": None, "agent_id": "agent-1", "key": "t"}
    control.sandbox.faults.update({"fail_rate": 1.0, "only": "execute"})
    first = await control.start(**tl)
    assert isinstance(first, run_control.NotConfirmed)
    assert first == run_control.NotConfirmed("tl", first.error)
    control.sandbox.faults.update({"fail_rate": 0.0, "only": ""})
    retry = await control.start(**tl)
    assert isinstance(retry, run_control.NotConfirmed)
    assert retry.source == "tl"
    assert isinstance(retry.error, UpstreamTimeout)
    assert retry.error.source == "tl"
    assert retry.error.detail == (
        "an earlier start with this key was sent and never confirmed; this upstream takes no "
        "key of its own, so it is not sent again: look for the run, or use a new key"
    )
    assert [r.get("source") for r in control.records()] == ["tl", "tl"]


async def test_a_start_the_upstream_refuses_names_its_source(control: Control) -> None:
    missing = await control.start(workflow_id="wf_nope", key="nf")
    assert isinstance(missing, run_control.NotFound)
    assert missing == run_control.NotFound("rv", upstream=missing.upstream)


async def test_a_start_whose_read_after_fails_is_started_without_the_run(
    control: Control,
) -> None:
    async def reads_fail() -> None:
        control.sandbox.faults.update({"fail_rate": 1.0, "only": RV_GET})

    control.between.after[RV_RUN_TRIAGE] = reads_fail
    result = await control.start()
    assert isinstance(result, run_control.Started)
    assert result == run_control.Started("rv", result.native_id, None)


async def test_with_the_shared_state_away_a_start_goes_out_unrecorded(control: Control) -> None:
    """Rotavision's own key keeps the start to one run, so it is sent; who started it cannot be
    written down, which leaves the run without a four-eyes hold, not the start refused."""
    away = RedisState("redis://127.0.0.1:9/0", timeout_s=0.2)
    runtime = control.runtime
    try:
        here = RunControl(runtime.adapters, runtime.store, away, AuditLog(None))
        parts = Away(runtime.sources, runtime.adapters, runtime.store, here)
        request = StartInput("rv", "wf_support_triage", {"ticket": "T-1"}, "k-1", OPS, "r")
        result = await run_control.start_execution(parts, control.loaders(), request)
    finally:
        await away.aclose()
    assert isinstance(result, run_control.Started)
    assert result.execution is not None
    assert control.calls(RV_RUN) == 1


async def test_with_the_shared_state_away_a_keyless_start_is_refused_in_words(
    control: Control,
) -> None:
    away = RedisState("redis://127.0.0.1:9/0", timeout_s=0.2)
    try:
        here = RunControl(control.runtime.adapters, control.runtime.store, away, AuditLog(None))
        refused = await here.start("tl", TL_AGENT, "gw-t", "fp", "a")
    finally:
        await away.aclose()
    assert isinstance(refused, UpstreamUnavailable)
    assert refused.detail == (
        "the shared state is unavailable and this upstream takes no idempotency key: not started"
    )


async def test_a_replica_built_without_a_sleep_waits_with_asyncios_own(control: Control) -> None:
    """The runtime builds RunControl without ``sleep``: its wait for another replica's start
    polls with asyncio's own sleep and answers with that replica's record."""
    shared = MemoryState()
    waiting = RunControl(control.runtime.adapters, control.runtime.store, shared, AuditLog(None))
    assert await shared.acquire("run:lock:start:gw-k", "another-replica", 60.0)
    task = asyncio.create_task(waiting.start("rv", start_request(), "gw-k", "fp", "a-2"))
    for _ in range(10):  # until it has looked, found the lock held and gone to sleep
        await asyncio.sleep(0)
    theirs = StartRecord("fp", "rv", "exec_theirs", attempt="a-1")
    await shared.set("run:confirmed:start:gw-k", encode_record(theirs), 60.0)
    await shared.release("run:lock:start:gw-k", "another-replica")
    assert await task == theirs
    assert control.calls(RV_RUN) == 0


async def test_a_start_naming_no_workflow_or_agent_is_audited_by_its_source_alone(
    control: Control,
) -> None:
    await control.start(source="zaia", workflow_id=None)
    (record,) = control.records()
    assert record["run"] == "zaia:"


# --- cancels --------------------------------------------------------------------------------------


async def test_a_cancel_gives_the_upstream_the_callers_reason(control: Control) -> None:
    sent = bodies(control)
    result = await control.cancel(f"velt:{velt.DEMO_WAITING_ID}", reason="wrong document")
    assert isinstance(result, run_control.Cancelled)
    (body,) = sent.seen[VELT_CANCEL]
    assert json.loads(body)["data"] == {
        "executionId": velt.DEMO_WAITING_ID,
        "reason": "wrong document",
    }


async def test_two_cancels_of_different_runs_at_once_are_two_flights(control: Control) -> None:
    first = await control.start(key="c-1")
    assert isinstance(first, run_control.Started)
    runs = (rotavision.DEMO_WAITING_ID, first.native_id)
    results = await asyncio.gather(
        *(control.runtime.run_control.cancel("rv", run, None) for run in runs)
    )
    assert results == [run_control.CancelRecord("rv", run) for run in runs]
    assert control.calls(RV_CANCEL) == 2
    assert [control.sandbox.rotavision.executions[run]["status"] for run in runs] == [
        "cancelled",
        "cancelled",
    ]


async def test_a_finished_run_is_answered_with_its_source(control: Control) -> None:
    finished = await control.cancel(f"rv:{rotavision.DOC_EXAMPLE_ID}")
    assert isinstance(finished, run_control.AlreadyFinished)
    assert finished == run_control.AlreadyFinished("rv", finished.execution)


# --- re-runs --------------------------------------------------------------------------------------


async def test_a_rerun_sends_everything_the_run_shows(control: Control) -> None:
    """Truthlocks shows a run's workflow, agents and parameters: all three go out again (without
    the agents, Truthlocks would refuse the start)."""
    original = control.sandbox.truthlocks.orchestrations[truthlocks.DOC_EXAMPLE_ID]
    original.update(status="completed", parameters={"q": "renewal"})
    result = await control.rerun(f"tl:{truthlocks.DOC_EXAMPLE_ID}")
    assert isinstance(result, run_control.Started)
    again = control.sandbox.truthlocks.orchestrations[result.native_id]
    assert (again["workflow_id"], again["agents"], again["parameters"]) == (
        original["workflow_id"],
        original["agents"],
        {"q": "renewal"},
    )
    assert control.calls(TL_EXECUTE) == 1


async def test_a_rerun_of_a_live_run_names_its_source(control: Control) -> None:
    waiting = await control.rerun(f"rv:{rotavision.DEMO_WAITING_ID}")
    assert isinstance(waiting, run_control.NotFinished)
    assert waiting == run_control.NotFinished("rv", waiting.execution)


# --- results and the audit ------------------------------------------------------------------------


def test_an_unclear_or_refused_upstream_answer_names_its_source() -> None:
    slow = UpstreamTimeout("slow")
    refused = UpstreamUnavailable("refused")
    assert run_control._failed("tl", slow) == run_control.NotConfirmed("tl", slow)
    assert run_control._failed("tl", refused) == run_control.UpstreamFailed("tl", refused)


async def test_an_attempts_duration_is_audited_to_a_tenth_of_a_millisecond(
    control: Control,
) -> None:
    readings = iter((100.0, 100.01234))
    viewer = Caller("ui", frozenset({"viewer"}))
    request = StartInput("rv", "wf", {}, "k", viewer, "r")
    result = await run_control.start_execution(
        control.runtime, control.loaders(), request, clock=lambda: next(readings)
    )
    assert result == run_control.Forbidden("client 'ui' lacks the operator role")
    (record,) = control.records()
    assert record["duration_ms"] == 12.3


async def test_a_starter_stored_as_bytes_that_are_not_utf8_still_reads(control: Control) -> None:
    """The starter is read back from the shared state (Redis, shared with other builds): bytes it
    cannot decode read with a replacement character, never as an error of the four-eyes check."""
    shared = MemoryState()
    here = RunControl(control.runtime.adapters, control.runtime.store, shared, AuditLog(None))
    await shared.set(run_control._starter_key("rv", "exec_1"), b"op\xffs", 60.0)
    assert await here.started_by("rv", "exec_1") == "op\ufffds"
