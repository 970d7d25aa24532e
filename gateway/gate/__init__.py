"""The gate every operation passes, whichever transport carried it (docs/gate.md).

``Gate.admit`` runs the checks of ``CHECKS`` in order — caller, document, trusted documents,
size, tokens, operation, role, shape, cost, rate limit — and raises ``Refused``; the schema
(``GatewaySchema.execute`` and ``.stream``) asks it before strawberry runs anything, so a
transport keeps only its framing. ``DocumentLimits`` holds the ``[limits]`` bounds and the
cost estimate, ``RateLimit`` the ``[rate_limit]`` buckets.
"""

from gateway.gate.gate import CHECKS, Gate, OperationRequest, Refused
from gateway.gate.limits import DocumentLimits, Sources
from gateway.gate.policy import RequiresRole
from gateway.gate.rate import RateLimit, RateLimiter, client_key

__all__ = [
    "CHECKS",
    "DocumentLimits",
    "Gate",
    "OperationRequest",
    "RateLimit",
    "RateLimiter",
    "Refused",
    "RequiresRole",
    "Sources",
    "client_key",
]
