"""Who is asking: the identity every layer passes down, from authentication to the audit record."""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["Caller"]


@dataclass(frozen=True, slots=True)
class Caller:
    """A configured client, or the anonymous caller of ``auth.mode = "none"``."""

    name: str
    roles: frozenset[str]
    reviewer_id: str | None = None
