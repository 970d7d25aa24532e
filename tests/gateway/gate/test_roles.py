"""How the gate finds the root fields an operation selects, for their roles (gateway/gate/policy.py):
through inline fragments, named fragments nested in either, and fragments that validation
refuses (unknown, or spreading themselves), which must reach validation, not crash the walk."""

from __future__ import annotations

import pytest
from graphql import build_schema

from gateway.config import LimitsConfig, RateLimitConfig
from gateway.core.caller import Caller
from gateway.core.persisted import PersistedQueries
from gateway.gate import Gate, OperationRequest, RateLimit, Refused
from tests.gateway.gate.test_policy import SCHEMA as POLICY_SCHEMA

SCHEMA = POLICY_SCHEMA._schema
"""The schema of tests/gateway/gate/test_policy.py: one mutation needs operator."""
SDL_SCHEMA = build_schema("type Query { ping: Int } type Mutation { stop: Int }")
"""Built from SDL, not by strawberry: its fields carry no strawberry definition."""


async def admit(roles: set[str], query: str, schema: object = SCHEMA) -> tuple[str, str] | None:
    """The refusing check and code, or None when admitted."""
    gate = Gate(
        LimitsConfig(),
        rate_limit=RateLimit(RateLimitConfig(requests_per_s=0, burst=1)),
        persisted=PersistedQueries(mode="off"),
    )
    try:
        await gate.admit(OperationRequest(Caller("c", frozenset(roles)), "caller:c", query), schema)  # type: ignore[arg-type]
    except Refused as refused:
        return refused.check, refused.code
    return None


FORBIDDEN = ("role", "FORBIDDEN")
INVALID = ("shape", "GRAPHQL_VALIDATION_FAILED")


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        pytest.param(
            "mutation { ... on Mutation { ...F } } fragment F on Mutation { stop }",
            FORBIDDEN,
            id="named-inside-inline",
        ),
        pytest.param(
            "mutation { ... on Mutation { ... on Mutation { stop } } }",
            FORBIDDEN,
            id="inline-inside-inline",
        ),
        pytest.param(
            "mutation { ...F } fragment F on Mutation { ...G } fragment G on Mutation { stop }",
            FORBIDDEN,
            id="named-inside-named",
        ),
        pytest.param(
            "mutation { ...F ...F note } fragment F on Mutation { note }",
            None,
            id="spread-twice",
        ),
        pytest.param(
            "mutation { note ...F } fragment F on Mutation { ...G } fragment G on Mutation { note }",
            None,
            id="nested-allowed",
        ),
        pytest.param("{ ...Nope }", INVALID, id="unknown-fragment"),
        pytest.param(
            "mutation { ... on Mutation { ...Nope } }", INVALID, id="unknown-inside-inline"
        ),
        pytest.param("{ ...F } fragment F on Query { ...F }", INVALID, id="fragment-cycle"),
        pytest.param(
            "{ ...F } fragment F on Query { ...G } fragment G on Query { ...F ping }",
            INVALID,
            id="longer-cycle",
        ),
    ],
)
async def test_root_fields_are_found_through_every_kind_of_fragment(
    query: str, expected: tuple[str, str] | None
) -> None:
    assert await admit({"viewer"}, query) == expected


@pytest.mark.parametrize(
    ("roles", "query", "expected"),
    [
        pytest.param({"approver"}, "mutation { stop }", None, id="mutation-needs-none"),
        pytest.param({"approver"}, "{ ping }", FORBIDDEN, id="query-needs-viewer"),
        pytest.param({"viewer"}, "{ ping }", None, id="viewer-reads"),
    ],
)
async def test_a_schema_without_declarations_has_the_default_roles(
    roles: set[str], query: str, expected: tuple[str, str] | None
) -> None:
    assert await admit(roles, query, SDL_SCHEMA) == expected
