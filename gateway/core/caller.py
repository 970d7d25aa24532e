"""Who is asking: the identity every layer passes down, from authentication to the audit record."""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["ANONYMOUS", "APPROVER", "AWAITING_INIT", "VIEWER", "Caller"]


@dataclass(frozen=True, slots=True)
class Caller:
    """A configured client, or the anonymous caller of ``auth.mode = "none"``."""

    name: str
    roles: frozenset[str]
    reviewer_id: str | None = None


VIEWER = "viewer"
"""The role reading needs: every query and subscription (checked at the gate)."""
APPROVER = "approver"
"""The role the decision mutations need (checked by their use case, gateway/core/deciding.py)."""

ANONYMOUS = Caller(name="anonymous", roles=frozenset({VIEWER, APPROVER}))
"""The caller when ``auth.mode = "none"``."""
AWAITING_INIT = Caller(name="unauthenticated", roles=frozenset())
"""A WebSocket's caller until its ``connection_init`` payload names a key."""
