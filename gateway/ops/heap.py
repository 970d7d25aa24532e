"""Garbage-collector settings for a long-running gateway process.

Two measured costs (docs/performance.md):

- Everything alive once the app is built (modules, the schema, the config) lives as long as the
  process, yet CPython's collector walks all of it on every full collection. Freezing that heap
  cut a 20-execution query's CPU by about a sixth.
- A 20-execution query holds a couple of thousand container objects (payloads, models, futures)
  while it runs. With CPython's default young-generation threshold (700) the collector ran about
  twice per such query, finding nothing to free, and promoted the live objects to be scanned
  again. A request frees most of its objects by reference counting (``Context.release`` breaks
  the one big cycle); a higher threshold spares those rescans, but not so high that one
  collection's pause shows in the latency tail (``YOUNG_GENERATION_THRESHOLD``).
"""

from __future__ import annotations

import gc
import time
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from collections.abc import Callable

__all__ = ["PAUSES", "YOUNG_GENERATION_THRESHOLD", "CollectorPauses", "settle_heap"]

YOUNG_GENERATION_THRESHOLD = 10_000
"""Allocations (net) between young collections: a trade between collector CPU and pauses.

A young collection stops the event loop for time proportional to what it walks, and each request
left objects in small reference cycles for it (graphql-core's execution context, until the speed
work broke that one; uvicorn's request cycle). The measurements below predate that fix, which cut
the collector's CPU at 10,000 to 0.03-0.16 ms per 20-execution request. Measured at 32 clients, 20 executions per query (docs/performance.md):

- 3,000: a young collection every 6 requests (1.9 ms each), a middle one every 68 (9.6 ms), and
  0.45-0.64 ms of collector CPU per request;
- 10,000: a young one every 41 requests (9 ms), a middle one every 440 (28 ms), and 0.28-0.47 ms
  per request, with p99 at 1.4-1.6 times p50 (3,000: 1.5-2.2). One execution, cached answers and
  one client were unchanged within the noise;
- 30,000: 0.1 ms per request, but the slowest thousandth of requests waits up to 550 ms;
- 50,000 (measured earlier): each young collection paused requests in flight for about 40 ms and
  p99 reached 3.5 times p50. CPython's 700 spent 1.6 ms per request."""


def settle_heap() -> None:
    """Collect once, freeze what start-up built (``gc.freeze``), and raise the young threshold.

    Called once per serving process, after the app is built and before it serves. Cycles made
    while serving are still collected, only less often; the start-up heap is spared the rescans.
    """
    gc.collect()
    gc.freeze()
    _, middle, oldest = gc.get_threshold()
    gc.set_threshold(YOUNG_GENERATION_THRESHOLD, middle, oldest)
    PAUSES.install()


PAUSE_BUCKETS_S = (0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25)


class CollectorPauses:
    """How long each garbage collection stopped the process, by generation (``gc.callbacks``).

    A collection stops the event loop, so every request in flight waits for it: this is what a
    tail-latency spike at low load looks like from the inside. Installed once per serving process
    (``settle_heap``) and read by the metrics at scrape time.
    """

    def __init__(self, clock: Callable[[], float] = time.perf_counter) -> None:
        self._clock = clock
        self._started = 0.0
        self.count = [0, 0, 0]
        self.seconds = [0.0, 0.0, 0.0]
        self.longest = [0.0, 0.0, 0.0]
        self.buckets = [[0] * len(PAUSE_BUCKETS_S) for _ in range(3)]
        """Per generation, cumulative: collections that took at most each bound."""

    def __call__(self, phase: str, info: dict[str, int]) -> None:
        if phase == "start":
            self._started = self._clock()
            return
        generation = info.get("generation", 2)
        took = self._clock() - self._started
        self.count[generation] += 1
        self.seconds[generation] += took
        self.longest[generation] = max(self.longest[generation], took)
        for index, bound in enumerate(PAUSE_BUCKETS_S):
            if took <= bound:
                self.buckets[generation][index] += 1

    def install(self) -> None:
        if self not in gc.callbacks:
            gc.callbacks.append(self)

    def uninstall(self) -> None:
        if self in gc.callbacks:
            gc.callbacks.remove(self)


PAUSES = CollectorPauses()
"""The process's one recorder: ``settle_heap`` installs it."""
