"""Sampled warnings: a flood of the same refusal writes one line per interval, not one per request.

The counters on ``/metrics`` stay exact; the log only has to say that it happens, and how often.
"""

from __future__ import annotations

import math
import time
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import logging
    from collections.abc import Callable, Hashable

__all__ = ["SampledLog"]


class SampledLog:
    """At most one line per key every ``interval_s``; the next line counts those left out.

    Keys must come from a bounded set (source and outcome), never from the request.
    """

    def __init__(
        self,
        logger: logging.Logger,
        interval_s: float = 10.0,
        *,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._logger = logger
        self._interval_s = interval_s
        self._clock = clock
        self._last: dict[Hashable, tuple[float, int]] = {}
        """key → (when its last line was written, lines left out since)."""

    def warning(self, key: Hashable, message: str, *args: object, extra: dict[str, Any]) -> None:
        now = self._clock()
        written, left_out = self._last.get(key, (-math.inf, 0))
        if now - written < self._interval_s:
            self._last[key] = (written, left_out + 1)
            return
        self._last[key] = (now, 0)
        self._logger.warning(message, *args, extra={**extra, "left_out": left_out})
