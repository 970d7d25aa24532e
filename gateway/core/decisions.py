"""Approve and reject: confirmed by the upstream or reported as not done, never sent twice.

- Identical decisions (same approval, decision, notes and reviewer) in flight at once in this
  process share one upstream call (single flight), and for a minute after one is confirmed,
  identical late arrivals get its answer too; failures are never kept, so a retry retries.
- The upstream call carries an Idempotency-Key derived from the approval and the decision, so a
  resend after a lost reply, from this process or another replica, cannot decide twice.
- The execution's cache entry is dropped after every attempt, whatever its outcome, so the next
  read shows the upstream's state.
- Every attempt is one audit record: the ``gateway.audit`` log, and the audit file if configured.
"""

from __future__ import annotations

import asyncio
import dataclasses
import enum
import hashlib
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING

from cachetools import TTLCache

from adapters.base import Capability, Decision, DecisionOutcome
from adapters.errors import UpstreamError, UpstreamTimeout
from gateway.core.actions import AuditLog, ReplicaGuard, digest
from gateway.core.single_flight import SingleFlight
from gateway.state.codec import decode_record, encode_record

if TYPE_CHECKING:
    from collections.abc import Awaitable, Callable, Mapping

    from adapters.base import SourceAdapter
    from adapters.model import Approval, Execution
    from gateway.core.caller import Caller
    from gateway.core.store import ExecutionStore
    from gateway.state.base import SharedState

__all__ = [
    "MAX_NOTES_LENGTH",
    "AuditLog",
    "DecisionAttempt",
    "DecisionService",
    "Outcome",
    "idempotency_key",
]

MAX_NOTES_LENGTH = 2000
"""Velt's documented bound for a decision reason; applied to every kind."""
CONFIRMED_TTL_S = 60.0
"""How long a confirmed decision answers identical late arrivals without a new upstream call."""
CONFIRMED_ENTRIES = 10_000
LOCK_TTL_S = 60.0
"""How long one replica's decision lock lives at most: longer than a decision's upstream call with
its retries can take, so it never expires under a live sender; a crashed sender's expires."""
REPLICA_WAIT_S = 10.0
"""How long a replica waits for another's identical decision before reporting it not confirmed."""
REPLICA_POLL_S = 0.05


class Outcome(enum.Enum):
    """How one decision attempt ended, as the audit record names it."""

    DECIDED = "decided"
    VOTE_RECORDED = "vote_recorded"
    ALREADY_RECORDED = "already_recorded"
    RECORDED_OTHERWISE = "recorded_otherwise"
    NOT_FOUND = "not_found"
    NOT_WAITING = "not_waiting"
    UNSUPPORTED = "unsupported"
    FORBIDDEN = "forbidden"
    INVALID = "invalid"
    UPSTREAM_FAILED = "upstream_failed"


@dataclass(frozen=True, slots=True)
class DecisionAttempt:
    """What one decision call produced: the upstream's confirmation, or the error it raised."""

    outcome: DecisionOutcome | None
    error: UpstreamError | None


def idempotency_key(approval_id: str, decision: Decision) -> str:
    """Stable per approval and decision: a resend is the same request to the upstream."""
    digest = hashlib.sha256(f"{approval_id}\n{decision.value}".encode()).hexdigest()
    return f"gw-{digest[:40]}"


class DecisionService:
    def __init__(
        self,
        adapters: Mapping[str, SourceAdapter],
        store: ExecutionStore,
        audit: AuditLog,
        *,
        timer: Callable[[], float] = time.monotonic,
        shared: SharedState | None = None,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        self._guard = (
            ReplicaGuard[DecisionAttempt](
                shared,
                "decision",
                lock_ttl_s=LOCK_TTL_S,
                wait_s=REPLICA_WAIT_S,
                poll_s=REPLICA_POLL_S,
                sleep=sleep,
            )
            if shared is not None
            else None
        )
        """Replicas' locks and confirmations (Redis); None in one process."""
        self._adapters = adapters
        self._store = store
        self._audit = audit
        self._sending: SingleFlight[tuple[str, ...], DecisionAttempt] = SingleFlight()
        # A request that read the approval as PENDING just before an identical decision landed
        # would otherwise send its own (replayed, but still a second POST).
        self._confirmed: TTLCache[tuple[str, ...], DecisionAttempt] = TTLCache(
            maxsize=CONFIRMED_ENTRIES, ttl=CONFIRMED_TTL_S, timer=timer
        )
        self.on_sent: list[Callable[[str, str], None]] = []
        """Called with (source, native id) after each decision was sent, whatever came back:
        the live layer re-reads the execution so its subscribers see the outcome at once."""

    def supports(self, source: str) -> bool:
        adapter = self._adapters[source]
        return Capability.APPROVE in adapter.capabilities

    async def decide(
        self,
        *,
        source: str,
        execution: Execution,
        approval: Approval,
        approval_id: str,
        decision: Decision,
        caller: Caller,
        notes: str | None,
    ) -> DecisionAttempt:
        """Send the decision once for all identical callers; never raises an UpstreamError."""
        key = (approval_id, decision.value, notes or "", caller.reviewer_id or caller.name)
        confirmed = self._confirmed.get(key)
        if confirmed is not None and confirmed.outcome is not None:
            # A repeat of a confirmed decision: the upstream has it already.
            return DecisionAttempt(
                outcome=dataclasses.replace(confirmed.outcome, already_recorded=True), error=None
            )

        async def send() -> DecisionAttempt:
            try:
                outcome = await self._adapters[source].decide(
                    execution,
                    approval,
                    decision,
                    reviewer_id=caller.reviewer_id,
                    notes=notes,
                    idempotency_key=idempotency_key(approval_id, decision),
                )
            except UpstreamError as exc:
                return DecisionAttempt(outcome=None, error=exc)
            finally:
                await self._store.invalidate(source, execution.native_id)
                for hook in self.on_sent:
                    hook(source, execution.native_id)
            attempt = DecisionAttempt(outcome=outcome, error=None)
            self._confirmed[key] = attempt
            return attempt

        shared, _ = self._sending.join(key, lambda: self._once_across_replicas(key, send))
        return await asyncio.shield(shared)

    async def _once_across_replicas(
        self, key: tuple[str, ...], send: Callable[[], Awaitable[DecisionAttempt]]
    ) -> DecisionAttempt:
        """With replicas: one of them sends, under a lock that expires by itself; the others wait
        for its confirmation and answer with it. While the shared state is away, each replica
        sends, and the upstream Idempotency-Key is what keeps a decision from being made twice."""
        if self._guard is None:
            return await send()

        def busy() -> DecisionAttempt:
            return DecisionAttempt(
                outcome=None,
                error=UpstreamTimeout(
                    "another replica is sending this same decision and the upstream has "
                    "not confirmed it yet; ask again to see its result"
                ),
            )

        return await self._guard.once(
            digest(*key),
            send,
            confirmed=_confirmed_elsewhere,
            keep=lambda attempt: (
                encode_record(attempt.outcome) if attempt.outcome is not None else None
            ),
            keep_ttl_s=CONFIRMED_TTL_S,
            busy=busy,
            unguarded=send,
        )

    def audit(self, **fields: object) -> None:
        """Record one decision attempt (``gateway.core.deciding`` calls this once per attempt)."""
        self._audit.record(event="decision", **fields)

    def close(self) -> None:
        self._audit.close()


def _confirmed_elsewhere(payload: bytes) -> DecisionAttempt | None:
    """Another replica's confirmed outcome, answered as already recorded."""
    outcome = decode_record(DecisionOutcome, payload)
    if outcome is None:
        return None
    return DecisionAttempt(outcome=dataclasses.replace(outcome, already_recorded=True), error=None)
