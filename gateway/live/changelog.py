"""The change log behind resumable subscriptions: every logged message gets a position.

A position is a Redis stream id, ``<milliseconds>-<sequence>``, in memory as in Redis, so one
parser serves both and positions sort as pairs of integers. The log is bounded by count and by
age (``live.resume_max_entries``, ``live.resume_max_age_s``); a client that resumes ``after`` a
position gets what followed it, or ``ResumeTooOld`` when the log can no longer say (the position
was trimmed, or this log never issued it: another process's, or one from before a restart), so
a gap is never silent. ``MemoryLog`` serves one process; ``RedisBus`` keeps the same rules in
Redis streams (gateway/live/redis_bus.py).
"""

from __future__ import annotations

import re
import time
from collections import deque
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from collections.abc import Callable

    from gateway.config import LiveConfig

Message = dict[str, Any]
"""A change as the bus carries it and this log keeps it (gateway/live/bus.py re-exports it)."""

__all__ = [
    "LOGGED_TOPICS",
    "POSITION_FIELD",
    "LogBounds",
    "MemoryLog",
    "Message",
    "ResumeTooOld",
    "format_position",
    "parse_position",
]

LOGGED_TOPICS = frozenset({"executions", "approvals", "approvals_resolved"})
"""The topics a subscriber may resume (``executionChanges``, ``approvalRequested``,
``approvalResolved``); the per-execution topics start with the current state, so they need no
log."""
POSITION_FIELD = "position"
_POSITION = re.compile(r"(\d{1,19})-(\d{1,19})")

Position = tuple[int, int]


class ResumeTooOld(Exception):
    """The log no longer holds (or never held) the position: what followed it may be lost."""


@dataclass(frozen=True, slots=True)
class LogBounds:
    max_entries: int = 10_000
    max_age_s: float = 3600.0

    @classmethod
    def of(cls, config: LiveConfig) -> LogBounds:
        return cls(config.resume_max_entries, config.resume_max_age_s)


def parse_position(text: str) -> Position | None:
    """The pair a position names, or None if ``text`` is not one (cheap: bounded, no
    backtracking)."""
    if len(text) > 40:
        return None
    match = _POSITION.fullmatch(text)
    if match is None:
        return None
    return int(match[1]), int(match[2])


def format_position(position: Position) -> str:
    return f"{position[0]}-{position[1]}"


class _Topic:
    __slots__ = ("entries", "last")

    def __init__(self) -> None:
        self.entries: deque[tuple[Position, Message]] = deque()
        self.last: Position = (0, 0)


class MemoryLog:
    """The log of one process: a bounded deque per topic."""

    def __init__(self, bounds: LogBounds, clock: Callable[[], float] = time.time) -> None:
        self.bounds = bounds
        self._clock = clock
        self._topics: dict[str, _Topic] = {}

    def append(self, topic: str, message: Message) -> str:
        """Log ``message``; its position, after every earlier one (as Redis assigns them)."""
        log = self._topics.setdefault(topic, _Topic())
        now_ms = int(self._clock() * 1000)
        position = (now_ms, 0) if now_ms > log.last[0] else (log.last[0], log.last[1] + 1)
        log.last = position
        log.entries.append((position, message))
        self._trim(log, now_ms)
        return format_position(position)

    def after(self, topic: str, position: str) -> list[Message]:
        """What was logged after ``position``, in order; ResumeTooOld if the log cannot say."""
        wanted = parse_position(position)
        log = self._topics.get(topic)
        if wanted is None or log is None:
            raise ResumeTooOld(position)
        self._trim(log, int(self._clock() * 1000))
        if wanted == log.last:
            return []
        if not log.entries or log.entries[0][0] > wanted or wanted > log.last:
            raise ResumeTooOld(position)
        return [message for at, message in log.entries if at > wanted]

    def _trim(self, log: _Topic, now_ms: int) -> None:
        """Drop entries past the count or age bound; the newest stays by age (it says where
        the log is, so a quiet hour does not make every resume fail)."""
        oldest_ms = now_ms - int(self.bounds.max_age_s * 1000)
        entries = log.entries
        while len(entries) > self.bounds.max_entries:
            entries.popleft()
        while len(entries) > 1 and entries[0][0][0] < oldest_ms:
            entries.popleft()
