"""What keeps one failing upstream from taking the gateway down: breaker, retry budget, deadline.

The engine (``adapters.engine``) applies these per source; they know nothing of HTTP, so they are
tested and tuned on their own. ``docs/resilience.md`` explains the policy and its numbers.
"""

from __future__ import annotations

import enum
import logging
import time
from collections import Counter, deque
from contextlib import contextmanager
from contextvars import ContextVar
from typing import TYPE_CHECKING

from adapters.errors import UpstreamUnavailable

if TYPE_CHECKING:
    from collections.abc import Callable, Iterator

__all__ = [
    "RETRY_BUDGET_MIN_RETRIES",
    "RETRY_BUDGET_RATIO",
    "RETRY_BUDGET_WINDOW_S",
    "Admission",
    "CircuitBreaker",
    "CircuitOpen",
    "CircuitState",
    "RetryBudget",
    "deadline_after",
    "request_deadline",
    "time_left",
]

log = logging.getLogger("adapters.http")
"""The logger name predates this module; dashboards and alerts filter on it."""

RETRY_BUDGET_RATIO = 0.2
RETRY_BUDGET_MIN_RETRIES = 5
RETRY_BUDGET_WINDOW_S = 10.0
"""Retries in the last window may be at most MIN_RETRIES + RATIO x the first attempts in it."""
_RETRY_BUDGET_BUCKETS = 10

request_deadline: ContextVar[float | None] = ContextVar("request_deadline", default=None)
"""The absolute ``time.monotonic()`` by which the current request must be answered, or None."""


@contextmanager
def deadline_after(
    seconds: float, *, clock: Callable[[], float] = time.monotonic
) -> Iterator[float]:
    """Give every upstream call made inside the block at most ``seconds`` from now in total.

    An enclosing, earlier deadline wins: a block can shorten the time left, never extend it.
    Tasks created inside the block (the loaders' fetches) inherit the deadline with the context.
    """
    deadline = clock() + seconds
    outer = request_deadline.get()
    if outer is not None:
        deadline = min(deadline, outer)
    token = request_deadline.set(deadline)
    try:
        yield deadline
    finally:
        request_deadline.reset(token)


def time_left(clock: Callable[[], float] = time.monotonic) -> float | None:
    """Seconds until the current request's deadline (may be negative), or None without one."""
    deadline = request_deadline.get()
    return None if deadline is None else deadline - clock()


class CircuitOpen(UpstreamUnavailable):
    """Refused without a call: the source's breaker is open (``retry_after``: until the probe)."""

    retryable = False


class CircuitState(enum.Enum):
    CLOSED = "closed"
    OPEN = "open"
    HALF_OPEN = "half_open"


class Admission(enum.Enum):
    ADMITTED = "admitted"
    PROBE = "probe"
    REFUSED = "refused"


class CircuitBreaker:
    """Closed → open after ``failures`` consecutive counted failures → half-open after the cooldown.

    Half-open lets exactly one probe through (others are refused while it runs); its success
    closes the circuit, its failure opens it again. ``failures = 0`` disables the breaker.
    """

    def __init__(
        self,
        *,
        source: str,
        failures: int,
        cooldown_s: float,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.source = source
        self.failures = failures
        self.cooldown_s = cooldown_s
        self.consecutive_failures = 0
        self.transitions: Counter[str] = Counter()
        """How often each state was entered, by ``CircuitState`` value."""
        self.refused = 0
        """Calls failed fast without touching the network."""
        self._clock = clock
        self._state = CircuitState.CLOSED
        self._opened_at = 0.0
        self._probing = False

    @property
    def state(self) -> CircuitState:
        if self._state is CircuitState.OPEN and self.retry_in() <= 0:
            self._enter(CircuitState.HALF_OPEN)
        return self._state

    def retry_in(self) -> float:
        """Seconds until an open circuit lets a probe through (0 when not open)."""
        if self._state is not CircuitState.OPEN:
            return 0.0
        return max(0.0, self._opened_at + self.cooldown_s - self._clock())

    def admit(self) -> Admission:
        state = self.state
        if state is CircuitState.CLOSED:
            return Admission.ADMITTED
        if state is CircuitState.HALF_OPEN and not self._probing:
            self._probing = True
            return Admission.PROBE
        self.refused += 1
        return Admission.REFUSED

    def settle(self, admission: Admission, succeeded: bool | None) -> None:
        """The outcome of an admitted call: True, False (a counted failure) or None (no verdict:
        cancelled, or timed out only because the request's deadline cut the attempt short)."""
        if admission is Admission.PROBE:
            self._probing = False
            if succeeded:
                self._close()
            elif succeeded is False:
                self._open()
        elif self._state is CircuitState.CLOSED and succeeded is not None:
            # Calls admitted before the circuit opened and finishing after it change nothing.
            if succeeded:
                self.consecutive_failures = 0
                return
            self.consecutive_failures += 1
            if self.failures and self.consecutive_failures >= self.failures:
                self._open()

    def _open(self) -> None:
        self._opened_at = self._clock()
        self._enter(CircuitState.OPEN)

    def _close(self) -> None:
        self.consecutive_failures = 0
        self._enter(CircuitState.CLOSED)

    def _enter(self, state: CircuitState) -> None:
        previous, self._state = self._state, state
        self.transitions[state.value] += 1
        level = logging.WARNING if state is CircuitState.OPEN else logging.INFO
        log.log(
            level,
            "circuit %s -> %s for source '%s'",
            previous.value,
            state.value,
            self.source,
            extra={"source": self.source, "circuit_state": state.value},
        )


class RetryBudget:
    """Bounds retries per source so a failing upstream is not hammered.

    Over the last ``window_s``, retries may be at most ``min_retries`` plus ``ratio`` times the
    first attempts: under load retries add at most ~20 %, and a quiet source can still retry a
    few times. Counted in ten buckets, so memory stays fixed whatever the traffic.
    """

    def __init__(
        self,
        *,
        ratio: float = RETRY_BUDGET_RATIO,
        min_retries: int = RETRY_BUDGET_MIN_RETRIES,
        window_s: float = RETRY_BUDGET_WINDOW_S,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.ratio = ratio
        self.min_retries = min_retries
        self._bucket_s = window_s / _RETRY_BUDGET_BUCKETS
        self._clock = clock
        self._buckets: deque[list[int]] = deque()  # [bucket number, first attempts, retries]
        self.exhausted = 0
        """Retries refused because the budget was spent."""

    def _current(self) -> list[int]:
        number = int(self._clock() // self._bucket_s)
        while self._buckets and self._buckets[0][0] <= number - _RETRY_BUDGET_BUCKETS:
            self._buckets.popleft()
        if not self._buckets or self._buckets[-1][0] != number:
            self._buckets.append([number, 0, 0])
        return self._buckets[-1]

    def record_call(self) -> None:
        """A call's first attempt: it earns ``ratio`` of a retry."""
        self._current()[1] += 1

    def try_spend(self) -> bool:
        """Take one retry from the budget, or say there is none left."""
        current = self._current()
        firsts = sum(b[1] for b in self._buckets)
        retries = sum(b[2] for b in self._buckets)
        if retries + 1 > self.min_retries + self.ratio * firsts:
            self.exhausted += 1
            return False
        current[2] += 1
        return True
