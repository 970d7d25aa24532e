"""A page argument out of bounds is refused for what it is, before its cost is counted."""

from __future__ import annotations

import pytest

from gateway.config import LimitsConfig, RateLimitConfig
from gateway.core.caller import ANONYMOUS
from gateway.core.persisted import PersistedQueries
from gateway.gate import Gate, OperationRequest, RateLimit, Refused
from gateway.schema import schema


async def refusal(query: str, variables: dict[str, object] | None = None) -> str | None:
    gate = Gate(
        LimitsConfig(),
        rate_limit=RateLimit(RateLimitConfig(requests_per_s=0, burst=1)),
        persisted=PersistedQueries(mode="off"),
    )
    request = OperationRequest(ANONYMOUS, "addr:test", query, variables=variables or {})
    try:
        await gate.admit(request, schema._schema)
    except Refused as refused:
        return refused.errors[0].message
    return None


@pytest.mark.parametrize("first", [0, 101, 1000])
async def test_first_out_of_bounds_names_first(first: int) -> None:
    """The issue's case: first: 1000 was refused for '1003 upstream calls'."""
    message = await refusal(f"{{ executionFeed(first: {first}) {{ edges {{ node {{ id }} }} }} }}")
    assert message == f"first: must be between 1 and 100, got {first}"


async def test_the_bound_holds_through_a_variable() -> None:
    query = "query($n: Int!) { pendingApprovals(first: $n) { edges { node { id } } } }"
    assert await refusal(query, {"n": 500}) == "first: must be between 1 and 100, got 500"
    assert await refusal(query, {"n": 100}) is None
