"""Counters of the live layer, read by tests, ``/metrics`` (gateway/live/metrics.py) and logs."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field

__all__ = ["LiveStats"]


@dataclass(slots=True)
class LiveStats:
    webhooks: Counter[tuple[str, str]] = field(default_factory=Counter)
    """(source, outcome): accepted, duplicate, ignored_type, bad_signature, unreadable,
    too_large, unknown_execution, no_execution."""
    refreshes: int = 0
    """Upstream re-reads after webhooks (coalesced: a burst costs one, plus one if more came
    while it ran)."""
    polls: int = 0
    polls_elsewhere: int = 0
    """Poll rounds another replica claimed (shared state): this one skipped them."""
    poll_errors: int = 0
    published: int = 0
    """Changes published (a re-read that found nothing new publishes nothing)."""
    approvals_announced: int = 0
    approvals_resolved: int = 0
    """Approvals announced as no longer waiting (``approvalResolved``)."""
    subscriptions_opened: int = 0
    slow_consumers: int = 0
    resumed: int = 0
    """Subscriptions that resumed ``after`` a position (or an SSE ``Last-Event-ID``)."""
    resume_too_old: int = 0
    """Resumes refused with RESUME_TOO_OLD: the log no longer held the position."""
