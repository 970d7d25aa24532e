"""``Gate.admit`` check by check, against a small strawberry schema: which check refuses, with
which code, status, headers and message, and what each check reads of the request.

tests/gateway/gate/test_matrix.py shows the same refusals on every transport of a real server;
these call the gate directly, so each decision is seen on its own (and quickly, under mutation).
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import pytest
import strawberry
from graphql import OperationType

from adapters.base import Capability
from gateway.config import LimitsConfig, RateLimitConfig
from gateway.core.caller import Caller
from gateway.core.persisted import PersistedQueries, Problem, sha256_hex
from gateway.gate import (
    FixedCost,
    Gate,
    OperationRequest,
    RateLimit,
    Refused,
    RequiresRole,
    Sources,
)

if TYPE_CHECKING:
    from graphql import GraphQLSchema


@strawberry.type
class Query:
    @strawberry.field
    def ping(self, n: int | None = None) -> int:
        return 1 if n is None else n

    @strawberry.field(directives=[FixedCost(upstream_calls=1, per_source=Capability.LIST)])  # type: ignore[untyped-decorator]
    def execution_feed(self) -> list[int]:
        """Declared as the gateway's feed: the cost estimate counts its calls per listing source."""
        return []


@strawberry.type
class Mutation:
    @strawberry.mutation(directives=[RequiresRole(role="operator")])  # type: ignore[untyped-decorator]
    def stop(self) -> int:
        return 1


SCHEMA: GraphQLSchema = strawberry.Schema(query=Query, mutation=Mutation)._schema
QUERY_ONLY: GraphQLSchema = strawberry.Schema(query=Query)._schema
READER = frozenset({"viewer"})
NO_LIMIT = RateLimitConfig(requests_per_s=0, burst=1)


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def make_gate(
    limits: LimitsConfig | None = None,
    *,
    rate: RateLimitConfig = NO_LIMIT,
    clock: FakeClock | None = None,
    persisted: PersistedQueries | None = None,
    introspection: bool | None = None,
) -> Gate:
    rate_limit = RateLimit(rate, clock=clock or FakeClock())
    if persisted is None:
        persisted = PersistedQueries(mode="off")
    if introspection is None:  # the gate's own default
        return Gate(limits or LimitsConfig(), rate_limit=rate_limit, persisted=persisted)
    return Gate(
        limits or LimitsConfig(),
        rate_limit=rate_limit,
        persisted=persisted,
        introspection=introspection,
    )


def request(
    query: object,
    *,
    roles: frozenset[str] = READER,
    name: str | None = None,
    variables: Any = None,
    client: str = "caller:c",
) -> OperationRequest:
    return OperationRequest(
        Caller("c", roles), client, query, name, {} if variables is None else variables
    )


async def refusal(
    gate: Gate,
    operation: OperationRequest,
    *,
    schema: GraphQLSchema = SCHEMA,
    sources: Sources | None = None,
) -> Refused:
    with pytest.raises(Refused) as caught:
        await gate.admit(operation, schema, sources)
    return caught.value


@dataclass(frozen=True)
class Case:
    operation: OperationRequest
    check: str
    code: str
    status: int | None
    message: str | None
    """None: graphql-core's own wording, not ours."""
    limits: LimitsConfig = field(default_factory=LimitsConfig)
    schema: GraphQLSchema = SCHEMA


HUGE = "9" * 4_301
CASES = {
    "no-caller": Case(
        request("{ ping }", roles=frozenset()),
        "caller",
        "UNAUTHENTICATED",
        401,
        "Authenticate first: an API key in the Authorization header or in the connection_init "
        "payload.",
    ),
    "query-not-text": Case(
        request(123),
        "document",
        "BAD_USER_INPUT",
        400,
        "Send the document as a non-empty string in 'query'.",
    ),
    "query-empty": Case(
        request(""),
        "document",
        "BAD_USER_INPUT",
        400,
        "Send the document as a non-empty string in 'query'.",
    ),
    "name-not-text": Case(
        OperationRequest(Caller("c", READER), "caller:c", "{ ping }", 5),  # type: ignore[arg-type]
        "document",
        "BAD_USER_INPUT",
        400,
        "'operationName' must be a string or null.",
    ),
    "variables-not-object": Case(
        request("{ ping }", variables=[1]),
        "document",
        "BAD_USER_INPUT",
        400,
        "'variables' must be an object or null.",
    ),
    "size": Case(
        request("{ ping }  # 20 bytes"),
        "size",
        "BAD_USER_INPUT",
        None,
        "The document is 20 bytes; this gateway accepts at most 19 (limits.max_document_bytes).",
        limits=LimitsConfig(max_document_bytes=19),
    ),
    "huge-number": Case(
        request(f"{{ ping(n: {HUGE}) }}"),
        "tokens",
        "BAD_USER_INPUT",
        400,
        "The document has a number of more than 4300 digits.",
    ),
    "too-many-tokens": Case(
        request("{ ping ping }"),
        "tokens",
        "BAD_USER_INPUT",
        None,
        "The document has more than 3 tokens; this gateway accepts at most 3 (limits.max_tokens).",
        limits=LimitsConfig(max_tokens=3),
    ),
    "syntax-error": Case(request("{ ping"), "tokens", "GRAPHQL_PARSE_FAILED", None, None),
    "several-operations": Case(
        request("query A { ping } query B { ping }"),
        "operation",
        "BAD_USER_INPUT",
        400,
        "The document has several operations: send 'operationName' to choose one.",
    ),
    "no-operation": Case(
        request("fragment F on Query { ping }"),
        "operation",
        "BAD_USER_INPUT",
        400,
        "The document has no operation to run.",
    ),
    "unknown-name": Case(
        request("query A { ping }", name="B"),
        "operation",
        "BAD_USER_INPUT",
        400,
        "The document has no operation named 'B'.",
    ),
    "name-for-anonymous": Case(
        request("{ ping }", name="A"),
        "operation",
        "BAD_USER_INPUT",
        400,
        "The document has no operation named 'A'.",
    ),
    "long-name-cut": Case(
        request("{ ping }", name="N" * 150),
        "operation",
        "BAD_USER_INPUT",
        400,
        f"The document has no operation named '{'N' * 100}'.",
    ),
    "role": Case(
        request("{ ping }", roles=frozenset({"approver"})),
        "role",
        "FORBIDDEN",
        403,
        "Client 'c' lacks the viewer role, which ping needs.",
    ),
    "invalid": Case(
        request("{ nope }"),
        "shape",
        "GRAPHQL_VALIDATION_FAILED",
        None,
        "Cannot query field 'nope' on type 'Query'.",
    ),
    "no-mutation-root": Case(
        request("mutation { stop }"),
        "shape",
        "GRAPHQL_VALIDATION_FAILED",
        None,
        None,
        schema=QUERY_ONLY,
    ),
    "cost": Case(
        request("{ executionFeed }"),
        "cost",
        "BAD_USER_INPUT",
        None,
        "The operation's estimated cost is 4 (each upstream call counts 1, each introspection "
        "field 100; ids, first/last, or else 10 per list, multiply what is nested in a list); "
        "this gateway accepts at most 3 (limits.max_cost).",
        limits=LimitsConfig(max_cost=3),
    ),
}


@pytest.mark.parametrize("case", CASES.values(), ids=CASES.keys())
async def test_each_check_refuses_with_its_code_status_and_message(case: Case) -> None:
    gate = make_gate(case.limits)
    refused = await refusal(gate, case.operation, schema=case.schema)
    assert (refused.check, refused.code, refused.status) == (case.check, case.code, case.status)
    assert refused.headers == ()
    if case.message is not None:
        assert str(refused) == refused.errors[0].message == case.message
    assert gate.refused == Counter({case.check: 1})
    await refusal(gate, case.operation, schema=case.schema)
    assert gate.refused == Counter({case.check: 2})


async def test_an_operation_every_check_admits_runs() -> None:
    gate = make_gate()
    assert await gate.admit(request("{ ping executionFeed }"), SCHEMA) is OperationType.QUERY
    operator = frozenset({"operator"})
    assert await gate.admit(request("mutation { stop }", roles=operator), SCHEMA) is (
        OperationType.MUTATION
    )
    assert gate.refused == Counter()


async def test_a_number_python_can_hold_is_left_to_validation() -> None:
    refused = await refusal(make_gate(), request(f"{{ ping(n: {HUGE[1:]}) }}"))
    assert (refused.check, refused.code) == ("shape", "GRAPHQL_VALIDATION_FAILED")


async def test_every_validation_error_answers() -> None:
    refused = await refusal(make_gate(), request("{ nope nah }"))
    assert [e.message for e in refused.errors] == [
        "Cannot query field 'nope' on type 'Query'.",
        "Cannot query field 'nah' on type 'Query'.",
    ]


async def test_validation_is_kept_per_document() -> None:
    gate = make_gate()
    await gate.admit(request("{ ping }"), SCHEMA)
    assert (await refusal(gate, request("{ nope }"))).check == "shape"
    await gate.admit(request("{ ping }"), SCHEMA)


async def test_the_named_operation_is_the_one_checked() -> None:
    document = "query A { ping } mutation B { stop }"
    operator = frozenset({"operator"})
    admitted = await make_gate().admit(request(document, roles=operator, name="B"), SCHEMA)
    assert admitted is OperationType.MUTATION
    refused = await refusal(make_gate(), request(document, roles=operator, name="A"))
    assert (refused.check, str(refused)) == (
        "role",
        "Client 'c' lacks the viewer role, which ping needs.",
    )


async def test_the_named_operation_is_the_one_costed() -> None:
    document = "query A { ping } query B { executionFeed }"
    gate = make_gate(LimitsConfig(max_cost=3))
    await gate.admit(request(document, name="A"), SCHEMA)
    assert (await refusal(gate, request(document, name="B"))).check == "cost"


async def test_the_cost_scales_with_the_sources_walked() -> None:
    gate = make_gate(LimitsConfig(max_cost=3))
    await gate.admit(request("{ executionFeed }"), SCHEMA, Sources(listing=3, approving=0))
    refused = await refusal(gate, request("{ executionFeed }"), sources=Sources(listing=4))
    assert refused.check == "cost"
    assert (await refusal(gate, request("{ executionFeed }"))).check == "cost"  # four by default


async def test_introspection_is_on_unless_turned_off() -> None:
    introspect = request("{ __schema { queryType { name } } }")
    await make_gate().admit(introspect, SCHEMA)
    await make_gate(introspection=True).admit(introspect, SCHEMA)
    refused = await refusal(make_gate(introspection=False), introspect)
    assert (refused.check, refused.code) == ("shape", "GRAPHQL_VALIDATION_FAILED")


async def test_only_trusted_documents_run_in_trusted_mode() -> None:
    trusted = "{ ping }"
    gate = make_gate(
        persisted=PersistedQueries(mode="trusted", trusted={sha256_hex(trusted): trusted})
    )
    await gate.admit(request(trusted), SCHEMA)
    refused = await refusal(gate, request("{ ping executionFeed }"))
    assert (refused.check, refused.code, refused.status) == (
        "trusted",
        "PERSISTED_QUERY_NOT_TRUSTED",
        None,
    )
    assert str(refused) == Problem.NOT_TRUSTED.message
    assert gate.refused == Counter({"trusted": 1})


async def test_the_rate_limit_refuses_with_retry_after_in_whole_seconds() -> None:
    clock = FakeClock()
    gate = make_gate(rate=RateLimitConfig(requests_per_s=2, burst=1), clock=clock)
    await gate.admit(request("{ ping }", client="addr:::1"), SCHEMA)
    refused = await refusal(gate, request("{ ping }", client="addr:::1"))
    assert (refused.check, refused.code, refused.status) == ("rate_limit", "RATE_LIMITED", 429)
    assert refused.headers == (("retry-after", "1"),)  # half a second: at least one
    assert refused.errors[0].extensions == {"code": "RATE_LIMITED", "retryAfter": 1}
    assert str(refused) == (
        "Too many requests from ::1: this gateway allows 2 a second with bursts of 1 "
        "(rate_limit); retry after 1 s."
    )
    assert gate.refused == Counter({"rate_limit": 1})
    await gate.admit(request("{ ping }", client="caller:other"), SCHEMA)  # its own bucket
    with pytest.raises(Refused):
        await gate.admit_again("addr:::1")  # an answer served again from the cache counts
    assert gate.refused == Counter({"rate_limit": 2})
    clock.now += 0.5
    await gate.admit(request("{ ping }", client="addr:::1"), SCHEMA)


async def test_retry_after_rounds_up() -> None:
    gate = make_gate(rate=RateLimitConfig(requests_per_s=0.4, burst=1))
    await gate.admit(request("{ ping }"), SCHEMA)
    refused = await refusal(gate, request("{ ping }"))  # 2.5 s until a token is free
    assert refused.headers == (("retry-after", "3"),)
    assert refused.errors[0].extensions == {"code": "RATE_LIMITED", "retryAfter": 3}
    assert str(refused) == (
        "Too many requests from c: this gateway allows 0.4 a second with bursts of 1 "
        "(rate_limit); retry after 3 s."
    )


async def test_an_operation_refused_earlier_takes_no_token() -> None:
    gate = make_gate(rate=RateLimitConfig(requests_per_s=1, burst=1))
    for _ in range(3):
        assert (await refusal(gate, request("{ nope }"))).check == "shape"
    await gate.admit(request("{ ping }"), SCHEMA)
    assert gate.refused == Counter({"shape": 3})
