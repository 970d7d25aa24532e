"""Run control: start, cancel and re-run executions, once, audited (GraphQL-free).

``start_execution``, ``cancel_execution`` and ``rerun_execution`` answer with a ``Result`` (one
small dataclass per way an attempt can end); ``gateway/schema/mutation.py`` maps it to the GraphQL
union. What the gateway can check itself (the source, whether its adapter declares the action, the
run's current state read fresh from the upstream) is checked before the one upstream write.

- A start (or re-run) carries the client's idempotency key. The first start with a key is kept in
  the shared state (memory, or Redis across replicas) for ``START_KEY_TTL_S`` with a fingerprint
  of its input: the same key with the same input answers that run again, with other input it is a
  conflict. Identical starts in flight share one upstream call in a process (single flight), and
  across replicas one replica sends while the others wait for its record (``ReplicaGuard``). The
  upstream gets a key derived from the caller and the client's key where it takes one (Velt's
  ``idempotencyKey``, Rotavision's ``Idempotency-Key``), so a start whose reply was lost is not
  started twice there either. Where it takes none (Truthlocks), a start that may have happened
  without a confirmation is kept too, so a retry with that key cannot start a second run.
- A cancel reads the run fresh: a finished run is answered with its final status and no call;
  identical cancels share one call, and the run is re-read after it.
- Every attempt writes one audit record (``event: run_control``): who, what, which run, the key,
  the outcome.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import re
import time
import uuid
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol

from adapters.base import RunAction, StartOutcome, StartRequest
from adapters.errors import (
    ExecutionNotFound,
    UpstreamAuthFailed,
    UpstreamBadResponse,
    UpstreamError,
    UpstreamForbidden,
    UpstreamTimeout,
    UpstreamUnavailable,
)
from adapters.model import ExecutionStatus
from gateway.core import ids
from gateway.core.actions import ReplicaGuard, digest
from gateway.core.caller import OPERATOR
from gateway.core.single_flight import SingleFlight
from gateway.state.base import StateUnavailable
from gateway.state.codec import decode_record, encode_record

if TYPE_CHECKING:
    from collections.abc import Awaitable, Callable, Mapping

    from adapters.base import SourceAdapter
    from adapters.model import Execution
    from gateway.config import SourceConfig
    from gateway.core.actions import AuditLog
    from gateway.core.caller import Caller
    from gateway.core.loaders import Loaders
    from gateway.core.store import ExecutionStore
    from gateway.state.base import SharedState

__all__ = [
    "FINISHED",
    "KEY_PATTERN",
    "START_KEY_TTL_S",
    "AlreadyFinished",
    "CancelRecord",
    "CancelRequest",
    "Cancelled",
    "Forbidden",
    "InvalidInput",
    "KeyConflict",
    "NotConfirmed",
    "NotFinished",
    "NotFound",
    "Result",
    "RunControl",
    "RunControlRuntime",
    "StartInput",
    "StartRecord",
    "Started",
    "Unsupported",
    "UpstreamFailed",
    "audit_fields",
    "cancel_execution",
    "rerun_execution",
    "start_execution",
]


class RunControlRuntime(Protocol):
    """What the use cases read of the runtime (gateway/core/runtime.py builds it; naming the
    class here instead would make the two modules import each other)."""

    @property
    def sources(self) -> Mapping[str, SourceConfig]: ...

    @property
    def adapters(self) -> Mapping[str, SourceAdapter]: ...

    @property
    def store(self) -> ExecutionStore: ...

    @property
    def run_control(self) -> RunControl: ...


START_KEY_TTL_S = 24 * 3600.0
"""How long a start key answers its first run (the 24 h upstreams keep their own keys)."""
STARTER_TTL_S = 30 * 24 * 3600.0
"""How long the gateway remembers which client started a run (four-eyes, docs/approvals.md):
longer than a run waits for a human (Velt's longest ``slaMs`` is 7 days)."""
CANCEL_CONFIRMED_TTL_S = 60.0
"""How long a confirmed cancel answers another replica's identical cancel without a call."""
LOCK_TTL_S = 60.0
REPLICA_WAIT_S = 10.0
REPLICA_POLL_S = 0.05
KEY_PATTERN = re.compile(r"[A-Za-z0-9:_\-.]{1,200}")
"""A client idempotency key: Velt's documented key pattern, applied to every source."""
MAX_INPUT_BYTES = 64 * 1024
MAX_REASON_LENGTH = 500
FINISHED = frozenset(
    {
        ExecutionStatus.COMPLETED,
        ExecutionStatus.FAILED,
        ExecutionStatus.CANCELLED,
        ExecutionStatus.TIMED_OUT,
    }
)


# --- requests ----------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class StartInput:
    """A start as the caller asked for it (strings unchecked)."""

    source: str
    workflow_id: str | None
    inputs: Any
    idempotency_key: str
    caller: Caller
    request_id: str
    agent_id: str | None = None
    agents: tuple[str, ...] = ()
    correlation_id: str | None = None


@dataclass(frozen=True, slots=True)
class CancelRequest:
    execution_id: str
    reason: str | None
    caller: Caller
    request_id: str


# --- results -----------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Started:
    """The upstream started the run (or ``replayed``: this key's first run, answered again);
    ``execution`` as the upstream now reports it, None when it could not be read back."""

    source: str
    native_id: str
    execution: Execution | None
    replayed: bool = False
    deduplicated: bool = False


@dataclass(frozen=True, slots=True)
class Cancelled:
    """The upstream accepted the cancel; ``execution`` as re-read after it (None when unread)."""

    source: str
    native_id: str
    execution: Execution | None


@dataclass(frozen=True, slots=True)
class AlreadyFinished:
    """Cancel: the run had ended already, nothing was sent (``status`` is its final status)."""

    source: str
    execution: Execution

    @property
    def status(self) -> ExecutionStatus:
        return self.execution.status

    @property
    def message(self) -> str:
        return f"the execution had already finished ({self.status.value}); nothing was cancelled"


@dataclass(frozen=True, slots=True)
class NotFinished:
    """Re-run: the run has not ended yet, nothing was started."""

    source: str
    execution: Execution

    @property
    def message(self) -> str:
        return f"the execution is still {self.execution.status.value}; re-run a finished one"


@dataclass(frozen=True, slots=True)
class Unsupported:
    source: str
    action: RunAction
    message: str


@dataclass(frozen=True, slots=True)
class NotFound:
    source: str
    message: str = "no such execution (or workflow) upstream"
    upstream: UpstreamError | None = None


@dataclass(frozen=True, slots=True)
class Forbidden:
    """No operator role, or the upstream refuses this action (``upstream``)."""

    message: str
    source: str | None = None
    upstream: UpstreamError | None = None


@dataclass(frozen=True, slots=True)
class NotConfirmed:
    """The upstream did not confirm (no answer, an unreadable one, a 5xx): it may or may not have
    happened. Read the run (or the list) before trying again; a start retried with the same key
    never starts a second run."""

    source: str
    error: UpstreamError


@dataclass(frozen=True, slots=True)
class UpstreamFailed:
    """The upstream refused or could not be reached: nothing happened."""

    source: str
    error: UpstreamError


@dataclass(frozen=True, slots=True)
class KeyConflict:
    source: str
    message: str = "this idempotency key was used with other input; use a new key"


@dataclass(frozen=True, slots=True)
class InvalidInput:
    field: str
    message: str
    source: str | None = None


Result = (
    Started
    | Cancelled
    | AlreadyFinished
    | NotFinished
    | Unsupported
    | NotFound
    | Forbidden
    | NotConfirmed
    | UpstreamFailed
    | KeyConflict
    | InvalidInput
)


@dataclass(frozen=True, slots=True)
class StartRecord:
    """What a start key holds in the shared state: the input's fingerprint and what came of it
    (the run's id, or ``in_doubt``: sent to an upstream without keys and never confirmed)."""

    fingerprint: str
    source: str
    native_id: str | None
    in_doubt: bool = False
    deduplicated: bool = False
    attempt: str = ""
    """Which request's call started it: any other request answering with it is a replay."""


@dataclass(frozen=True, slots=True)
class CancelRecord:
    source: str
    native_id: str


# --- the service: one sender per action across replicas -----------------------------------------


class RunControl:
    """The process-long part: single flight, the replicas' guard, the audit log, the hooks."""

    def __init__(
        self,
        adapters: Mapping[str, SourceAdapter],
        store: ExecutionStore,
        shared: SharedState,
        audit: AuditLog,
        *,
        sleep: Callable[[float], Awaitable[None]] | None = None,
    ) -> None:
        self._adapters = adapters
        self._store = store
        self._shared = shared
        self._audit = audit
        extra = {"sleep": sleep} if sleep is not None else {}
        self._guard = ReplicaGuard[Any](
            shared,
            "run",
            lock_ttl_s=LOCK_TTL_S,
            wait_s=REPLICA_WAIT_S,
            poll_s=REPLICA_POLL_S,
            **extra,
        )
        self._starting: SingleFlight[str, StartRecord | UpstreamError] = SingleFlight()
        self._cancelling: SingleFlight[str, CancelRecord | UpstreamError] = SingleFlight()
        self.on_sent: list[Callable[[str, str], None]] = []
        """Called with (source, native id) after a start or cancel was accepted: the live layer
        re-reads the run so its subscribers see it at once."""

    def supports(self, source: str, action: RunAction) -> bool:
        return action in self._adapters[source].actions

    async def record_starter(self, source: str, native_id: str, client: str) -> None:
        """Remember that ``client`` started the run (the four-eyes rule reads it back)."""
        await self._shared.set(_starter_key(source, native_id), client.encode(), STARTER_TTL_S)

    async def started_by(self, source: str, native_id: str) -> str | None:
        """The client that started the run through the gateway, None if none did (or it was
        too long ago); StateUnavailable while the shared state is away."""
        found = await self._shared.get(_starter_key(source, native_id))
        return found.decode(errors="replace") if found is not None else None

    def audit(self, **fields: object) -> None:
        self._audit.record(event="run_control", **fields)

    def _sent(self, source: str, native_id: str) -> None:
        for hook in self.on_sent:
            hook(source, native_id)

    async def start(
        self, source: str, request: StartRequest, key: str, fingerprint: str, attempt: str
    ) -> StartRecord | UpstreamError:
        """Start once per key, across replicas; the key's record (``attempt`` names the request
        whose call made it), or the upstream's refusal."""
        adapter = self._adapters[source]

        async def send() -> StartRecord | UpstreamError:
            try:
                outcome: StartOutcome = await adapter.start(request)
            except UpstreamError as exc:
                return exc  # in doubt without an upstream key: kept below, so never resent
            if outcome.execution is not None:
                await self._store.invalidate(source, outcome.native_id)
            self._sent(source, outcome.native_id)
            return StartRecord(
                fingerprint,
                source,
                outcome.native_id,
                deduplicated=outcome.deduplicated,
                attempt=attempt,
            )

        def keep(answer: StartRecord | UpstreamError) -> bytes | None:
            if isinstance(answer, StartRecord):
                return encode_record(answer)
            if not adapter.start_deduplicates and _maybe_happened(answer):
                return encode_record(StartRecord(fingerprint, source, None, in_doubt=True))
            return None

        def busy() -> UpstreamError:
            return UpstreamTimeout(
                "another replica is starting this run and the upstream has not confirmed it "
                "yet; ask again with the same key to see its result",
                source=source,
            )

        async def unguarded() -> StartRecord | UpstreamError:
            if adapter.start_deduplicates:
                return await send()  # the upstream's own key keeps it to one run
            return UpstreamUnavailable(
                "the shared state is unavailable and this upstream takes no idempotency key: "
                "not started",
                source=source,
            )

        async def guarded() -> StartRecord | UpstreamError:
            answer: StartRecord | UpstreamError = await self._guard.once(
                f"start:{key}",
                send,
                confirmed=lambda payload: decode_record(StartRecord, payload),
                keep=keep,
                keep_ttl_s=START_KEY_TTL_S,
                busy=busy,
                unguarded=unguarded,
            )
            return answer

        shared, _ = self._starting.join(key, guarded)
        return await asyncio.shield(shared)

    async def cancel(
        self, source: str, native_id: str, reason: str | None
    ) -> CancelRecord | UpstreamError:
        adapter = self._adapters[source]
        key = digest(source, native_id)

        async def send() -> CancelRecord | UpstreamError:
            try:
                await adapter.cancel(native_id, reason=reason)
            except UpstreamError as exc:
                return exc
            finally:
                await self._store.invalidate(source, native_id)
            self._sent(source, native_id)
            return CancelRecord(source, native_id)

        def busy() -> UpstreamError:
            return UpstreamTimeout(
                "another replica is cancelling this run and the upstream has not confirmed it "
                "yet; read the run to see its state",
                source=source,
                native_id=native_id,
            )

        async def guarded() -> CancelRecord | UpstreamError:
            answer: CancelRecord | UpstreamError = await self._guard.once(
                f"cancel:{key}",
                send,
                confirmed=lambda payload: decode_record(CancelRecord, payload),
                keep=lambda a: encode_record(a) if isinstance(a, CancelRecord) else None,
                keep_ttl_s=CANCEL_CONFIRMED_TTL_S,
                busy=busy,
                unguarded=send,
            )
            return answer

        shared, _ = self._cancelling.join(key, guarded)
        return await asyncio.shield(shared)


def _starter_key(source: str, native_id: str) -> str:
    return f"run:starter:{digest(source, native_id)}"


def _maybe_happened(error: UpstreamError) -> bool:
    """Whether a failed write may still have been applied upstream (no clear refusal came)."""
    if isinstance(error, UpstreamTimeout | UpstreamBadResponse):
        return True
    return isinstance(error, UpstreamUnavailable) and error.http_status is not None


# --- the use cases ----------------------------------------------------------------------------


async def start_execution(
    runtime: RunControlRuntime,
    loaders: Loaders,
    request: StartInput,
    *,
    clock: Callable[[], float] = time.perf_counter,
) -> Result:
    """Start a run once per idempotency key; one audit record."""
    started = clock()
    result = await _start(runtime, loaders, request, RunAction.START, None)
    _audit(
        runtime,
        request.caller,
        RunAction.START,
        request.request_id,
        run=f"{request.source}:{(request.workflow_id or request.agent_id or '')[:200]}",
        key=request.idempotency_key[:200],
        result=result,
        started=started,
        clock=clock,
    )
    return result


async def rerun_execution(
    runtime: RunControlRuntime,
    loaders: Loaders,
    execution_id: str,
    idempotency_key: str,
    caller: Caller,
    request_id: str,
    *,
    clock: Callable[[], float] = time.perf_counter,
) -> Result:
    """Start a finished run again from its definition and inputs; one audit record."""
    started = clock()
    result = await _rerun(runtime, loaders, execution_id, idempotency_key, caller, request_id)
    _audit(
        runtime,
        caller,
        RunAction.RERUN,
        request_id,
        run=execution_id[:200],
        key=idempotency_key[:200],
        result=result,
        started=started,
        clock=clock,
    )
    return result


async def cancel_execution(
    runtime: RunControlRuntime,
    loaders: Loaders,
    request: CancelRequest,
    *,
    clock: Callable[[], float] = time.perf_counter,
) -> Result:
    """Cancel a run unless it has ended; one audit record."""
    started = clock()
    result = await _cancel(runtime, loaders, request)
    _audit(
        runtime,
        request.caller,
        RunAction.CANCEL,
        request.request_id,
        run=request.execution_id[:200],
        key=None,
        result=result,
        started=started,
        clock=clock,
    )
    return result


def _check_caller(caller: Caller) -> Forbidden | None:
    if OPERATOR not in caller.roles:
        return Forbidden(f"client '{caller.name}' lacks the operator role")
    return None


def _check_key(key: str) -> InvalidInput | None:
    if not KEY_PATTERN.fullmatch(key):
        return InvalidInput(
            "idempotencyKey", "idempotencyKey: 1-200 letters, digits or : _ - . characters"
        )
    return None


def _fingerprint(source: str, request: StartRequest) -> str:
    plain = {
        "source": source,
        "workflow": request.workflow_id,
        "inputs": request.inputs,
        "agent": request.agent_id,
        "agents": list(request.agents),
        "correlation": request.correlation_id,
    }
    return digest(json.dumps(plain, sort_keys=True, separators=(",", ":"), default=str))


def _upstream_key(caller: Caller, source: str, client_key: str) -> str:
    """The key the gateway keeps and gives the upstream: per caller and source, so two clients'
    equal keys never meet, and in Velt's documented key pattern."""
    return f"gw-{digest(caller.name, source, client_key)[:40]}"


async def _start(
    runtime: RunControlRuntime,
    loaders: Loaders,
    request: StartInput,
    action: RunAction,
    prepared: StartRequest | None,
) -> Result:
    refused = _check_caller(request.caller) or _check_key(request.idempotency_key)
    if refused is not None:
        return refused
    source = request.source
    if source not in runtime.sources:
        return InvalidInput("source", f"source: unknown source '{source[:100]}'")
    if not runtime.run_control.supports(source, action):
        kind = runtime.sources[source].kind.value
        verb = "start" if action is RunAction.START else "re-run"
        return Unsupported(source, action, f"source '{source}' ({kind}) cannot {verb} runs")
    key = _upstream_key(request.caller, source, request.idempotency_key)
    start = prepared or StartRequest(
        workflow_id=request.workflow_id,
        inputs=request.inputs,
        idempotency_key=key,
        agent_id=request.agent_id,
        agents=request.agents,
        correlation_id=request.correlation_id,
    )
    size = len(json.dumps(start.inputs, default=str))
    if size > MAX_INPUT_BYTES:
        return InvalidInput("inputs", f"inputs: at most {MAX_INPUT_BYTES} bytes as JSON")
    if start.correlation_id is not None and not KEY_PATTERN.fullmatch(start.correlation_id):
        return InvalidInput("correlationId", "correlationId: the idempotency key's pattern")
    fingerprint = _fingerprint(source, start)
    attempt = uuid.uuid4().hex
    answer = await runtime.run_control.start(source, start, key, fingerprint, attempt)
    if isinstance(answer, UpstreamError):
        return _failed(source, answer)
    if answer.fingerprint != fingerprint:
        return KeyConflict(source)
    if answer.native_id is None:
        error = UpstreamTimeout(
            "an earlier start with this key was sent and never confirmed; this upstream takes "
            "no key of its own, so it is not sent again: look for the run, or use a new key",
            source=source,
        )
        return NotConfirmed(source, error)
    with contextlib.suppress(StateUnavailable):  # unrecorded: four-eyes cannot hold this run
        await runtime.run_control.record_starter(source, answer.native_id, request.caller.name)
    execution = await _read_fresh(loaders, source, answer.native_id)
    return Started(
        source,
        answer.native_id,
        execution if not isinstance(execution, UpstreamError) else None,
        replayed=answer.attempt != attempt,
        deduplicated=answer.deduplicated,
    )


async def _rerun(
    runtime: RunControlRuntime,
    loaders: Loaders,
    execution_id: str,
    idempotency_key: str,
    caller: Caller,
    request_id: str,
) -> Result:
    refused = _check_caller(caller) or _check_key(idempotency_key)
    if refused is not None:
        return refused
    ref = _execution_ref(execution_id)
    if isinstance(ref, InvalidInput):
        return ref
    source = ref.source
    if source not in runtime.sources:
        return InvalidInput("executionId", f"executionId: unknown source '{source}'", source)
    if not runtime.run_control.supports(source, RunAction.RERUN):
        kind = runtime.sources[source].kind.value
        return Unsupported(source, RunAction.RERUN, f"source '{source}' ({kind}) cannot re-run")
    before = await _read_fresh(loaders, source, ref.native_id, forget=True, runtime=runtime)
    if isinstance(before, ExecutionNotFound):
        return NotFound(source, "no such execution")
    if isinstance(before, UpstreamError):
        return UpstreamFailed(source, before)
    if before.status not in FINISHED:
        return NotFinished(source, before)
    key = _upstream_key(caller, source, idempotency_key)
    prepared = runtime.adapters[source].rerun_request(before, key)
    if prepared is None:
        return Unsupported(
            source,
            RunAction.RERUN,
            f"source '{source}' does not show what started this run, so it cannot be re-run",
        )
    request = StartInput(
        source=source,
        workflow_id=prepared.workflow_id,
        inputs=prepared.inputs,
        idempotency_key=idempotency_key,
        caller=caller,
        request_id=request_id,
    )
    return await _start(runtime, loaders, request, RunAction.RERUN, prepared)


async def _cancel(runtime: RunControlRuntime, loaders: Loaders, request: CancelRequest) -> Result:
    refused = _check_caller(request.caller)
    if refused is not None:
        return refused
    if request.reason is not None and len(request.reason) > MAX_REASON_LENGTH:
        return InvalidInput("reason", f"reason: at most {MAX_REASON_LENGTH} characters")
    ref = _execution_ref(request.execution_id)
    if isinstance(ref, InvalidInput):
        return ref
    source, native_id = ref.source, ref.native_id
    if source not in runtime.sources:
        return InvalidInput("executionId", f"executionId: unknown source '{source}'", source)
    if not runtime.run_control.supports(source, RunAction.CANCEL):
        kind = runtime.sources[source].kind.value
        return Unsupported(source, RunAction.CANCEL, f"source '{source}' ({kind}) cannot cancel")
    before = await _read_fresh(loaders, source, native_id, forget=True, runtime=runtime)
    if isinstance(before, ExecutionNotFound):
        return NotFound(source, "no such execution")
    if isinstance(before, UpstreamError):
        return UpstreamFailed(source, before)
    if before.status in FINISHED:
        return AlreadyFinished(source, before)
    answer = await runtime.run_control.cancel(source, native_id, request.reason)
    if isinstance(answer, UpstreamError):
        return _failed(source, answer)
    after = await _read_fresh(loaders, source, native_id)
    return Cancelled(source, native_id, after if not isinstance(after, UpstreamError) else None)


def _execution_ref(value: str) -> ids.ExecutionRef | InvalidInput:
    try:
        ref = ids.parse_id(value)
    except ids.InvalidId as exc:
        return InvalidInput("executionId", str(exc))
    if not isinstance(ref, ids.ExecutionRef):
        return InvalidInput("executionId", "executionId: expected an execution id (Execution.id)")
    return ref


async def _read_fresh(
    loaders: Loaders,
    source: str,
    native_id: str,
    *,
    forget: bool = True,
    runtime: RunControlRuntime | None = None,
) -> Execution | UpstreamError:
    """The run as the upstream has it now (cached copies dropped first)."""
    if runtime is not None:
        await runtime.store.invalidate(source, native_id)
    if forget:
        loaders.forget(source, native_id)
    try:
        return await loaders.execution(source, native_id)
    except UpstreamError as exc:
        return exc


def _failed(source: str, error: UpstreamError) -> Result:
    if isinstance(error, ExecutionNotFound):
        return NotFound(source, upstream=error)
    if isinstance(error, UpstreamForbidden) or (
        isinstance(error, UpstreamAuthFailed) and error.http_status == 403
    ):
        return Forbidden("the upstream does not allow this action", source, error)
    if _maybe_happened(error):
        return NotConfirmed(source, error)
    return UpstreamFailed(source, error)


def _audit(
    runtime: RunControlRuntime,
    caller: Caller,
    action: RunAction,
    request_id: str,
    *,
    run: str,
    key: str | None,
    result: Result,
    started: float,
    clock: Callable[[], float],
) -> None:
    runtime.run_control.audit(
        caller=caller.name,
        action=action.value.lower(),
        run=run,
        key=key,
        request_id=request_id,
        **audit_fields(result),
        duration_ms=round((clock() - started) * 1000, 1),
    )


def audit_fields(result: Result) -> dict[str, object]:
    """How the attempt ended, for its audit record."""
    fields: dict[str, object] = {"outcome": _OUTCOMES[type(result)]}
    source = getattr(result, "source", None)
    if source is not None:
        fields["source"] = source
    if isinstance(result, Started | Cancelled):
        fields["execution"] = ids.execution_id(result.source, result.native_id)
        if isinstance(result, Started) and result.replayed:
            fields["replayed"] = True
    if isinstance(result, AlreadyFinished):
        fields["final_status"] = result.status.value
    upstream = getattr(result, "upstream", None) or getattr(result, "error", None)
    if isinstance(upstream, UpstreamError):
        fields["upstream_status"] = upstream.http_status
        fields["upstream_code"] = upstream.upstream_code or upstream.code
    return fields


_OUTCOMES: dict[type, str] = {
    Started: "started",
    Cancelled: "cancelled",
    AlreadyFinished: "already_finished",
    NotFinished: "not_finished",
    Unsupported: "unsupported",
    NotFound: "not_found",
    Forbidden: "forbidden",
    NotConfirmed: "not_confirmed",
    UpstreamFailed: "upstream_failed",
    KeyConflict: "key_conflict",
    InvalidInput: "invalid",
}
