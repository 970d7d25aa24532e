"""What every gateway write to an upstream shares: one audit record per attempt, and one sender
across replicas.

Decisions (``decisions.py``) and run control (``run_control.py``) both use these:

- ``AuditLog`` writes one JSON line per attempt, named by its ``event`` (``decision``,
  ``run_control``), to the ``gateway.audit`` logger and optionally a file of its own.
- ``ReplicaGuard`` makes one replica send a write while the others wait for its confirmation
  (a lock in the shared state that expires by itself, and the confirmed record beside it), so an
  action asked of several replicas at once reaches the upstream once.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import json
import logging
import uuid
from typing import TYPE_CHECKING, Generic, TypeVar

from gateway.state.base import StateUnavailable

if TYPE_CHECKING:
    from collections.abc import Awaitable, Callable
    from pathlib import Path

    from gateway.state.base import SharedState

__all__ = ["AuditLog", "ReplicaGuard", "digest"]

audit_log = logging.getLogger("gateway.audit")

R = TypeVar("R")


def digest(*parts: str) -> str:
    """A fixed-length key part for free text (ids, notes, client keys): safe in any store key."""
    return hashlib.sha256("\n".join(parts).encode()).hexdigest()


class AuditLog:
    """One JSON record per attempt: to the ``gateway.audit`` logger and optionally a file."""

    def __init__(self, path: Path | None) -> None:
        self._file_logger: logging.Logger | None = None
        if path is not None:
            handler = logging.FileHandler(path, encoding="utf-8")
            handler.setFormatter(logging.Formatter("%(message)s"))
            # A logger of its own, outside logging's registry: no other configuration (a
            # dictConfig, a later AuditLog given the same name) can reach it, and with no parent
            # its records go to the file alone.
            self._file_logger = logging.Logger("gateway.audit.file", logging.INFO)
            self._file_logger.propagate = False
            self._file_logger.addHandler(handler)

    def record(self, *, event: str = "decision", **fields: object) -> None:
        line = json.dumps({"event": event, **fields}, default=str, separators=(",", ":"))
        audit_log.info(line, extra={"audit": {"event": event, **fields}})
        if self._file_logger is not None:
            self._file_logger.info(line)

    def close(self) -> None:
        if self._file_logger is not None:
            for handler in list(self._file_logger.handlers):
                handler.close()
                self._file_logger.removeHandler(handler)


class ReplicaGuard(Generic[R]):
    """One replica sends, under a lock that expires by itself; the others wait for its confirmed
    record and answer with it.

    ``namespace`` prefixes the keys (``decision``, ``run``); ``confirmed`` reads a record back
    (None when there is none this build can use), ``keep`` says whether an answer is worth
    keeping for the others (and returns its bytes), ``busy`` is the answer after waiting
    ``wait_s`` in vain. While the shared state is away, ``unguarded`` answers: decisions send
    anyway (their upstream key keeps them from deciding twice), a start without such a key
    refuses.
    """

    def __init__(
        self,
        shared: SharedState,
        namespace: str,
        *,
        lock_ttl_s: float,
        wait_s: float,
        poll_s: float,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        self._shared = shared
        self._namespace = namespace
        self._lock_ttl_s = lock_ttl_s
        self._wait_s = wait_s
        self._poll_s = poll_s
        self._sleep = sleep

    def keys(self, key: str) -> tuple[str, str]:
        """The lock's key and the confirmed record's key for ``key``."""
        return f"{self._namespace}:lock:{key}", f"{self._namespace}:confirmed:{key}"

    async def once(
        self,
        key: str,
        send: Callable[[], Awaitable[R]],
        *,
        confirmed: Callable[[bytes], R | None],
        keep: Callable[[R], bytes | None],
        keep_ttl_s: float,
        busy: Callable[[], R],
        unguarded: Callable[[], Awaitable[R]],
    ) -> R:
        lock, confirmed_key = self.keys(key)
        owner = uuid.uuid4().hex
        try:
            waited = 0.0
            while True:
                payload = await self._shared.get(confirmed_key)
                found = confirmed(payload) if payload is not None else None
                if found is not None:
                    return found
                if await self._shared.acquire(lock, owner, self._lock_ttl_s):
                    break
                if waited >= self._wait_s:
                    return busy()
                await self._sleep(self._poll_s)
                waited += self._poll_s
            # Confirmed between our look and taking the lock: the sender released just now.
            payload = await self._shared.get(confirmed_key)
            found = confirmed(payload) if payload is not None else None
        except StateUnavailable:
            return await unguarded()
        try:
            if found is not None:
                return found
            answer = await send()
            kept = keep(answer)
            if kept is not None:
                with contextlib.suppress(StateUnavailable):
                    await self._shared.set(confirmed_key, kept, keep_ttl_s)
            return answer
        finally:
            with contextlib.suppress(StateUnavailable):
                await self._shared.release(lock, owner)
