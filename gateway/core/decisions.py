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
import json
import logging
from dataclasses import dataclass
from typing import TYPE_CHECKING

from cachetools import TTLCache

from adapters.base import Capability, Decision, DecisionOutcome
from adapters.errors import UpstreamError
from gateway.core.single_flight import SingleFlight

if TYPE_CHECKING:
    from collections.abc import Callable, Mapping
    from pathlib import Path

    from adapters.base import SourceAdapter
    from adapters.model import Approval, Execution
    from gateway.core.caller import Caller
    from gateway.core.store import ExecutionStore

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

audit_log = logging.getLogger("gateway.audit")


class Outcome(enum.Enum):
    """How one decision attempt ended, as the audit record names it."""

    DECIDED = "decided"
    VOTE_RECORDED = "vote_recorded"
    ALREADY_RECORDED = "already_recorded"
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


class AuditLog:
    """One JSON record per decision attempt: to the ``gateway.audit`` logger and optionally a file."""

    def __init__(self, path: Path | None) -> None:
        self._file_logger: logging.Logger | None = None
        if path is not None:
            handler = logging.FileHandler(path, encoding="utf-8")
            handler.setFormatter(logging.Formatter("%(message)s"))
            self._file_logger = logging.getLogger(f"gateway.audit.file.{id(self)}")
            self._file_logger.propagate = False
            self._file_logger.setLevel(logging.INFO)
            self._file_logger.addHandler(handler)

    def record(self, **fields: object) -> None:
        line = json.dumps({"event": "decision", **fields}, default=str, separators=(",", ":"))
        audit_log.info(line, extra={"audit": fields})
        if self._file_logger is not None:
            self._file_logger.info(line)

    def close(self) -> None:
        if self._file_logger is not None:
            for handler in list(self._file_logger.handlers):
                handler.close()
                self._file_logger.removeHandler(handler)


class DecisionService:
    def __init__(
        self, adapters: Mapping[str, SourceAdapter], store: ExecutionStore, audit: AuditLog
    ) -> None:
        self._adapters = adapters
        self._store = store
        self._audit = audit
        self._sending: SingleFlight[tuple[str, ...], DecisionAttempt] = SingleFlight()
        # A request that read the approval as PENDING just before an identical decision landed
        # would otherwise send its own (replayed, but still a second POST).
        self._confirmed: TTLCache[tuple[str, ...], DecisionAttempt] = TTLCache(
            maxsize=CONFIRMED_ENTRIES, ttl=CONFIRMED_TTL_S
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
                self._store.invalidate(source, execution.native_id)
                for hook in self.on_sent:
                    hook(source, execution.native_id)
            attempt = DecisionAttempt(outcome=outcome, error=None)
            self._confirmed[key] = attempt
            return attempt

        shared, _ = self._sending.join(key, send)
        return await asyncio.shield(shared)

    def audit(self, **fields: object) -> None:
        """Record one decision attempt (the mutation calls this once per attempt)."""
        self._audit.record(**fields)

    def close(self) -> None:
        self._audit.close()
