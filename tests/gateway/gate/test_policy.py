"""Roles declared on root fields (``@requiresRole``), as the gate reads them."""

from __future__ import annotations

import pytest
import strawberry

from gateway.config import LimitsConfig, RateLimitConfig
from gateway.core.caller import Caller
from gateway.core.persisted import PersistedQueries
from gateway.gate import Gate, OperationRequest, RateLimit, Refused, RequiresRole


@strawberry.type
class Query:
    @strawberry.field
    def ping(self) -> int:
        return 1


@strawberry.type
class Mutation:
    @strawberry.mutation(directives=[RequiresRole(role="operator")])  # type: ignore[untyped-decorator]
    def stop(self) -> int:
        return 1

    @strawberry.mutation
    def note(self) -> int:
        return 1


SCHEMA = strawberry.Schema(query=Query, mutation=Mutation)


def gate() -> Gate:
    return Gate(
        LimitsConfig(),
        rate_limit=RateLimit(RateLimitConfig(requests_per_s=0, burst=1)),
        persisted=PersistedQueries(mode="off"),
    )


async def admit(roles: set[str], query: str) -> str | None:
    caller = Caller("c", frozenset(roles))
    try:
        await gate().admit(OperationRequest(caller, "caller:c", query), SCHEMA._schema)
    except Refused as refused:
        return refused.code
    return None


@pytest.mark.parametrize(
    ("roles", "query", "code"),
    [
        pytest.param({"viewer"}, "mutation { stop }", "FORBIDDEN", id="declared-role-missing"),
        pytest.param({"operator"}, "mutation { stop }", None, id="declared-role-held"),
        pytest.param({"approver"}, "mutation { note }", None, id="undeclared-mutation"),
        pytest.param({"approver"}, "{ ping }", "FORBIDDEN", id="reads-need-viewer"),
        pytest.param({"approver"}, "{ __typename }", "FORBIDDEN", id="even-typename"),
        pytest.param(
            {"viewer"},
            "mutation M { ...F } fragment F on Mutation { stop }",
            "FORBIDDEN",
            id="through-a-fragment",
        ),
        pytest.param(
            {"viewer"}, "mutation { ... on Mutation { stop } }", "FORBIDDEN", id="inline-fragment"
        ),
    ],
)
async def test_a_root_field_needs_its_declared_role(
    roles: set[str], query: str, code: str | None
) -> None:
    assert await admit(roles, query) == code


def test_the_schema_exports_the_rule() -> None:
    assert 'stop: Int! @requiresRole(role: "operator")' in SCHEMA.as_str()
