"""What the sandbox counts and which faults it injects: shared by its middleware and admin API.

Tests read these counters in-process (or over ``GET /_sandbox/stats``) to prove batching and
concurrency by behaviour, never by timing.
"""

from __future__ import annotations

import threading
from collections import Counter
from dataclasses import asdict, dataclass, field, fields
from typing import Any

__all__ = ["Faults", "Stats"]


@dataclass(slots=True)
class Faults:
    """Injected upstream misbehaviour; every field off by default.

    ``latency_ms`` delays each reply; ``fail_rate`` (0..1) answers that share of calls with a 503
    in the kind's own error envelope.
    """

    latency_ms: float = 0.0
    fail_rate: float = 0.0

    def update(self, values: dict[str, Any]) -> None:
        names = {f.name: f for f in fields(self)}
        for key, value in values.items():
            if key not in names:
                raise ValueError(f"unknown fault '{key}'")
            setattr(self, key, type(getattr(self, key))(value))

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
