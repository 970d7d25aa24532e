"""Per-source counters in one place: upstream calls, cache hits and misses, loader batches.

Exposed through ``Query.sources { stats }``; the metrics exporter reads the same objects.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from adapters.engine import CallRecord

__all__ = ["SourceStats"]


@dataclass(slots=True)
class SourceStats:
    upstream_calls: int = 0
    upstream_errors: int = 0
    cache_hits: int = 0
    cache_misses: int = 0
    shared_fetches: int = 0
    """Loads that joined a fetch already in flight for the same key (single flight)."""
    shared_hits: int = 0
    """Local misses answered by another replica's read (the shared state), no upstream call."""
    batches: int = 0
    batched_keys: int = 0
    max_batch_size: int = 0
    consecutive_failures: int = 0
    last_error_code: str | None = None

    def record_call(self, record: CallRecord) -> None:
        self.upstream_calls += 1
        if record.error_code is None:
            self.consecutive_failures = 0
        else:
            self.upstream_errors += 1
            if record.error_code.startswith("UPSTREAM_"):
                self.consecutive_failures += 1
                self.last_error_code = record.error_code

    def record_batch(self, size: int) -> None:
        self.batches += 1
        self.batched_keys += size
        self.max_batch_size = max(self.max_batch_size, size)
