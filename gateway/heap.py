"""Garbage-collector settings for a long-running gateway process.

Everything alive once the app is built (modules, the schema, the config) lives as long as the
process, yet CPython's collector rescans it on every full collection, and a 20-execution query
allocates enough to trigger young collections many times over. Measured (docs/performance.md),
the collector took about a sixth of the gateway's CPU on that query before this.
"""

from __future__ import annotations

import gc
import os

__all__ = ["YOUNG_THRESHOLD", "settle_heap"]

YOUNG_THRESHOLD = int(os.environ.get("GATEWAY_GC_YOUNG", "7000"))
"""Allocations between young collections (CPython's default is 700)."""


def settle_heap() -> None:
    """Freeze what start-up built out of the collector's sight; collect the young less often.

    Called once per serving process, after the app is built and before it serves. Cycles the
    gateway creates while serving are still collected; only the start-up heap is spared.
    """
    gc.collect()
    gc.freeze()
    _, older, oldest = gc.get_threshold()
    gc.set_threshold(YOUNG_THRESHOLD, older, oldest)
