"""What the sandbox counts and which faults it injects: shared by its middleware and admin API.

Tests read these counters in-process (or over ``GET /_sandbox/stats``) to prove batching and
concurrency by behaviour, never by timing.
"""

from __future__ import annotations

import threading
from collections import Counter
from dataclasses import asdict, dataclass, field, fields
from typing import Any

__all__ = ["FAULT_MODES", "Faults", "Stats"]


FAULT_MODES = (
    "none",
    "hang",
    "reset",
    "malformed_json",
    "wrong_shape",
    "rate_limit",
    "slow_body",
    "unavailable",
)
"""What a faulted call gets; ``docs/resilience.md`` describes each."""


@dataclass(slots=True)
class Faults:
    """Injected upstream misbehaviour; every field off by default.

    ``mode`` alone hits every call; with ``fail_rate`` (0..1) only that share of calls, and
    ``fail_rate`` alone answers that share with a 503 in the kind's own error envelope.
    ``only`` limits all faults, ``latency_ms`` included, to endpoints whose template
    (``"POST /v2/workflow/executions/get"``) contains it; empty means every endpoint.
    """

    latency_ms: float = 0.0
    fail_rate: float = 0.0
    mode: str = "none"
    only: str = ""
    retry_after_s: float = 1.0
    """The ``Retry-After`` a ``rate_limit`` reply carries."""
    slow_body_s: float = 2.0
    """How long a ``slow_body`` reply takes to stream its body."""

    def update(self, values: dict[str, Any]) -> None:
        """Change some faults; an unknown name or mode changes nothing and raises ValueError."""
        names = {f.name for f in fields(self)}
        parsed: dict[str, Any] = {}
        for key, value in values.items():
            if key not in names:
                raise ValueError(f"unknown fault '{key}' (known: {', '.join(sorted(names))})")
            parsed[key] = type(getattr(self, key))(value)
        mode = parsed.get("mode", self.mode)
        if mode not in FAULT_MODES:
            raise ValueError(f"unknown fault mode '{mode}' (known: {', '.join(FAULT_MODES)})")
        for key, value in parsed.items():
            setattr(self, key, value)

    def applies_to(self, template: str) -> bool:
        return not self.only or self.only in template

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(slots=True)
class Stats:
    """Calls per endpoint template, and how many were in flight at once."""

    calls: Counter[str] = field(default_factory=Counter)
    in_flight: int = 0
    max_in_flight: int = 0
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    @property
    def total(self) -> int:
        return sum(self.calls.values())

    def enter(self, endpoint: str) -> None:
        with self._lock:
            self.calls[endpoint] += 1
            self.in_flight += 1
            self.max_in_flight = max(self.max_in_flight, self.in_flight)

    def leave(self) -> None:
        with self._lock:
            self.in_flight -= 1

    def reset(self) -> None:
        with self._lock:
            self.calls.clear()
            self.max_in_flight = self.in_flight

    def as_dict(self) -> dict[str, Any]:
        return {
            "calls": dict(self.calls),
            "total": self.total,
            "in_flight": self.in_flight,
            "max_in_flight": self.max_in_flight,
        }
