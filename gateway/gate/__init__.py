"""The gate every operation passes, whichever transport carried it (docs/gate.md).

``Gate.admit`` runs the checks of ``CHECKS`` in order — caller, document, trusted documents,
size, tokens, operation, role, shape, cost, rate limit — and raises ``Refused``; the schema
(``GatewaySchema.execute`` and ``.stream``) asks it before strawberry runs anything, so a
transport keeps only its framing. ``DocumentShape`` holds the ``[limits]`` bounds on a document's
shape (gateway/gate/shape.py), ``CostLimit`` its cost estimate, read from what the schema declares
on its fields (gateway/gate/cost.py), ``RateLimit`` the ``[rate_limit]`` buckets.
"""

from gateway.gate.cost import CallCost, CostLimit, FixedCost, ListSize, Sources
from gateway.gate.gate import CHECKS, Gate, OperationRequest, Refused
from gateway.gate.policy import RequiresRole
from gateway.gate.rate import RateLimit, RateLimiter, client_key
from gateway.gate.shape import DocumentShape

__all__ = [
    "CHECKS",
    "CallCost",
    "CostLimit",
    "DocumentShape",
    "FixedCost",
    "Gate",
    "ListSize",
    "OperationRequest",
    "RateLimit",
    "RateLimiter",
    "Refused",
    "RequiresRole",
    "Sources",
    "client_key",
]
