"""Who is asking: the identity every layer passes down, from authentication to the audit record."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from gateway.core.scope import ClientScope

__all__ = ["ANONYMOUS", "APPROVER", "AWAITING_INIT", "OPERATOR", "VIEWER", "Caller"]


@dataclass(frozen=True, slots=True)
class Caller:
    """A configured client, or the anonymous caller of ``auth.mode = "none"``."""

    name: str
    roles: frozenset[str]
    reviewer_id: str | None = None
    scope: ClientScope | None = None
    """What the client may see (gateway/core/scope.py); None: everything."""


VIEWER = "viewer"
"""The role reading needs: every query and subscription (checked at the gate)."""
APPROVER = "approver"
"""The role the decision mutations need (checked by their use case, gateway/core/deciding.py)."""

OPERATOR = "operator"
"""The role run control needs: start, cancel, re-run (declared on the mutations, checked at the
gate, and again by their use case, gateway/core/run_control.py)."""

ANONYMOUS = Caller(name="anonymous", roles=frozenset({VIEWER, APPROVER, OPERATOR}))
"""The caller when ``auth.mode = "none"``."""
AWAITING_INIT = Caller(name="unauthenticated", roles=frozenset())
"""A WebSocket's caller until its ``connection_init`` payload names a key."""
