"""What a client may see: a property of the caller, applied wherever executions are read.

A client's ``scope`` (``[[auth.clients]]``, docs/scope.md) names the sources it may read and,
within a source, the upstream partitions: each source declares what its partition is
(``SourceAdapter.partition``: a workflow id, Zaia's workspace). Out of scope reads as absent — an
execution of another partition is ``NOT_FOUND`` like an id that does not exist, a source out of
scope is unknown like a source that does not exist — never as forbidden. Without a scope a client
sees everything.

``ClientScope.fingerprint`` goes into every key the gateway keeps for a caller's answers (the response
cache, shared answers, feed cursors), so nothing made for one scope serves another.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from collections.abc import Callable, Iterable, Mapping

    from adapters.model import Execution

__all__ = ["EVERY_PARTITION", "ClientScope", "fingerprint"]

EVERY_PARTITION = "*"


@dataclass(frozen=True, slots=True)
class ClientScope:
    """Sources a client may read, each with the partitions it may read (None: every one)."""

    partitions: Mapping[str, frozenset[str] | None]
    fingerprint: str = field(default="", compare=False)

    @classmethod
    def of(cls, sources: Mapping[str, Iterable[str] | str]) -> ClientScope:
        """From config: ``{source: "*" | [partition, ...]}``."""
        partitions = {
            name: None if value == EVERY_PARTITION else frozenset(value)
            for name, value in sources.items()
        }
        plain = {name: sorted(p) if p is not None else "*" for name, p in partitions.items()}
        digest = hashlib.sha256(json.dumps(plain, sort_keys=True).encode()).hexdigest()[:16]
        return cls(partitions, fingerprint=digest)

    def has_source(self, source: str) -> bool:
        return source in self.partitions

    def allows(
        self, source: str, execution: Execution, partition_of: Callable[[Execution], str | None]
    ) -> bool:
        """Whether ``execution`` of ``source`` is in scope (its partition read by its source)."""
        if source not in self.partitions:
            return False
        allowed = self.partitions[source]
        return allowed is None or partition_of(execution) in allowed

    def sources(self, names: Iterable[str]) -> list[str]:
        """``names`` in scope, in their order."""
        return [name for name in names if name in self.partitions]


def fingerprint(scope: ClientScope | None) -> str:
    """The scope's part of a cache key or cursor: empty without a scope."""
    return "" if scope is None else scope.fingerprint
