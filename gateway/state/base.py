"""The shared-state interface: one small set of operations every backend gives the same meaning.

Keys are strings the callers build (``cache:rv:exec_1``, ``lock:decision:…``); a backend adds
its own namespace. Values are bytes. Every operation may raise ``StateUnavailable`` when the
backend cannot be reached: callers decide what that means for them (a cache read becomes a miss,
a decision is refused as not done, never guessed).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:
    import collections
    from collections.abc import Sequence

__all__ = [
    "VERSION_TTL_S",
    "SharedState",
    "StateUnavailable",
    "TokenVerdict",
    "entry_kind",
    "tagged_key",
    "version_key",
]

VERSION_TTL_S = 86_400.0
"""How long a superseded key's version is kept: far longer than any read that could race it."""


def version_key(key: str) -> str:
    """Where ``key``'s version lives (absent until the key is first superseded)."""
    return f"version:{key}"


def tagged_key(key: str) -> str:
    """Where the values tagged with ``key`` are listed (``write_tagged``)."""
    return f"tagged:{key}"


ENTRY_KINDS = frozenset(
    {"answer", "execution", "version", "tagged", "decision", "fingerprint", "webhook"}
)
"""The first part of the keys the gateway builds: a bad entry is counted under it (else ``other``)."""


def entry_kind(key: str) -> str:
    """The metric label for a bad entry at ``key``: bounded, whatever a planted key is called."""
    kind = key.partition(":")[0]
    return kind if kind in ENTRY_KINDS else "other"


class StateUnavailable(Exception):
    """The shared state could not be read or written (Redis down, timed out, refused)."""


@dataclass(frozen=True, slots=True)
class TokenVerdict:
    """One rate-limit decision: allowed or not, and when the next token will be there."""

    allowed: bool
    retry_after_s: float
    remaining: int


class SharedState(Protocol):
    name: str
    """``memory`` or ``redis``: what /readyz and the metrics show."""
    bad_entries: collections.Counter[str]
    """Entries read back that the gateway did not write (or not there, or not so), by kind
    (``entry_kind``, ``bucket``): dropped, never used. A caller that finds a value it cannot use
    after the backend opened it counts it here too."""

    @property
    def available(self) -> bool:
        """False while the last operation failed to reach the backend (always True in memory)."""
        ...

    async def get(self, key: str) -> bytes | None: ...

    async def set(self, key: str, value: bytes, ttl_s: float) -> None:
        """Keep ``value`` for ``ttl_s`` seconds (a non-positive TTL stores nothing)."""
        ...

    async def delete(self, key: str) -> None: ...

    async def read_versioned(self, key: str) -> tuple[bytes | None, bytes]:
        """The value and the version it was read at (``b""`` until ``supersede`` first runs)."""
        ...

    async def write_if_version(self, key: str, value: bytes, ttl_s: float, version: bytes) -> bool:
        """Keep ``value`` unless ``supersede`` moved the key on since ``version`` was read: a value
        read before a change cannot be written back after it. True when written."""
        ...

    async def supersede(self, key: str) -> None:
        """Drop the value, move the key's version on, and drop every value tagged with the key,
        in one step."""
        ...

    async def write_tagged(
        self, key: str, value: bytes, ttl_s: float, tags: Sequence[str], quiet_s: float
    ) -> bool:
        """Keep ``value``, to be dropped when any of ``tags`` (keys) is superseded; refused when
        one was superseded less than ``quiet_s`` ago (the value may predate the change). True
        when written."""
        ...

    async def add_once(self, key: str, ttl_s: float) -> bool:
        """Mark ``key`` as seen for ``ttl_s``: True the first time, False while it is marked."""
        ...

    async def acquire(self, key: str, owner: str, ttl_s: float) -> bool:
        """Take a lock that expires by itself after ``ttl_s``: True when ``owner`` now holds it."""
        ...

    async def release(self, key: str, owner: str) -> bool:
        """Release the lock if ``owner`` still holds it (an expired lock is not someone else's to drop)."""
        ...

    async def take_token(self, key: str, rate_per_s: float, burst: int) -> TokenVerdict:
        """A token bucket, atomic across every replica that shares the backend."""
        ...

    async def ping(self) -> bool:
        """Reach the backend now: True when it answers (and ``available`` follows)."""
        ...

    async def aclose(self) -> None: ...
