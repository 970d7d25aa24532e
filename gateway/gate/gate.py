"""The gate: the one place every operation passes, whichever transport carried it.

POST, GET, GraphQL over SSE, multipart subscriptions and graphql-transport-ws only frame a
request (read it, bound its bytes, find the caller); ``GatewaySchema.execute`` and ``.stream``,
which every one of them calls, ask ``Gate.admit`` before strawberry sees the operation. The
checks run in ``CHECKS`` order, and the first refusal answers:

1. ``caller``: an authenticated caller (a WebSocket whose ``connection_init`` named no key has
   none): ``UNAUTHENTICATED``.
2. ``document``: the request carries a document as text: ``BAD_USER_INPUT``.
3. ``trusted``: with ``persisted_queries = "trusted"``, only allow-listed documents run:
   ``PERSISTED_QUERY_NOT_TRUSTED``.
4. ``size``: ``limits.max_document_bytes``, before the text is read.
5. ``tokens``: ``limits.max_tokens`` while parsing; a syntax error is ``GRAPHQL_PARSE_FAILED``,
   a number literal Python cannot hold is refused here too.
6. ``operation``: the operation to run is named when there are several, and exists.
7. ``role``: each root field's role, declared on it (``@requiresRole``, gateway/gate/policy.py),
   else ``viewer`` for queries and subscriptions: ``FORBIDDEN``. (A decision's ``approver`` role
   is its use case's: the refusal is part of ``DecisionResult``, per item.)
8. ``shape``: validation, with ``limits.max_depth``, ``max_aliases`` and
   ``max_introspection_fields`` (``BAD_USER_INPUT`` naming the limit); any other validation
   failure is ``GRAPHQL_VALIDATION_FAILED``.
9. ``cost``: ``limits.max_cost`` and ``max_upstream_calls``, estimated with the variables.
10. ``rate_limit``: one token per operation: ``RATE_LIMITED`` (gateway/gate/rate.py).

A refusal is one ``Refused`` error, the same on every transport: HTTP answers it with its
``status`` (and ``Retry-After``), a WebSocket with an ``error`` message for the operation.
"""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from graphql import FragmentDefinitionNode, OperationDefinitionNode, OperationType

from gateway.core.coalesce import Coalescer
from gateway.core.errors import GatewayError
from gateway.core.persisted import Problem
from gateway.gate.cost import CostLimit, Sources
from gateway.gate.policy import missing_role
from gateway.gate.shape import DocumentShape

if TYPE_CHECKING:
    from collections.abc import Iterable, Mapping

    from graphql import DocumentNode, GraphQLError, GraphQLSchema

    from gateway.config import LimitsConfig
    from gateway.core.caller import Caller
    from gateway.core.persisted import PersistedQueries
    from gateway.gate.rate import RateLimit

__all__ = ["CHECKS", "Gate", "OperationRequest", "Refused"]

CHECKS = (
    "caller",
    "document",
    "trusted",
    "size",
    "tokens",
    "operation",
    "role",
    "shape",
    "cost",
    "rate_limit",
)
"""The gate's checks, in the order they run (``Refused.check`` names one)."""

_MAX_LITERAL_DIGITS = 4_300
_HUGE_NUMBER = re.compile(rf"\d{{{_MAX_LITERAL_DIGITS + 1}}}")
"""A run of digits Python's int() refuses: as a literal in a document it was an INTERNAL error."""


class Refused(Exception):
    """The gate's answer to an operation it does not run: its errors (each with its code: the
    gateway's own, or graphql-core's validation errors), the check that refused, and the HTTP
    status and headers an HTTP transport answers with (None: the usual status for a request
    error). The schema answers them as GraphQL errors (gateway/schema/errors.py)."""

    def __init__(
        self,
        check: str,
        *errors: GatewayError | GraphQLError,
        status: int | None = None,
        headers: Iterable[tuple[str, str]] = (),
    ) -> None:
        super().__init__(errors[0].message)
        self.check = check
        self.errors = list(errors)
        self.status = status
        self.headers = tuple(headers)
        self.action: str | None = None
        """The mutation a role refusal stopped (its audit record names it), else None."""

    @property
    def code(self) -> str:
        return str((self.errors[0].extensions or {}).get("code"))


@dataclass(frozen=True, slots=True)
class OperationRequest:
    """One operation as a transport hands it over: who asks, and what."""

    caller: Caller
    client: str
    """Whom the rate limit counts it against (``gateway.gate.rate.client_key``)."""
    query: object
    operation_name: str | None = None
    variables: Mapping[str, Any] = field(default_factory=dict)
    """As the transport read them: the gate refuses anything but a JSON object."""


class Gate:
    """The ordered checks for one gateway (its limits, persisted queries and rate limit).

    ``refused`` counts refusals by check, for ``/metrics``.
    """

    def __init__(
        self,
        limits: LimitsConfig,
        *,
        rate_limit: RateLimit,
        persisted: PersistedQueries,
        introspection: bool = True,
    ) -> None:
        self.documents = DocumentShape(limits, introspection=introspection)
        self.costs = CostLimit(limits)
        self.rate_limit = rate_limit
        self.persisted = persisted
        self.refused: Counter[str] = Counter()
        self.coalescer: Coalescer[Any] = Coalescer()
        """Identical admitted queries share one execution (gateway/core/coalesce.py)."""

    async def admit(
        self, request: OperationRequest, schema: GraphQLSchema, sources: Sources | None = None
    ) -> OperationType:
        """The admitted operation's type; raises ``Refused`` unless ``request`` may run against
        ``schema``. ``sources`` says how many sources the listing fields walk (the cost
        estimate scales with them)."""
        try:
            operation_type = self._admit_document(request, schema, sources or Sources())
        except Refused as refused:
            self.refused[refused.check] += 1
            raise
        await self.admit_again(request.client)
        return operation_type

    async def admit_again(self, client: str) -> None:
        """The checks an answer served again from the response cache still passes: everything
        else the gate decides from what the cache key holds (document, variables, roles), so
        only the rate limit is asked again."""
        wait = await self.rate_limit.wait(client)
        if wait <= 0:
            return
        self.refused["rate_limit"] += 1
        config = self.rate_limit.config
        retry_after = max(1, -int(-wait // 1))
        raise Refused(
            "rate_limit",
            GatewayError(
                f"Too many requests from {client.partition(':')[2]}: this gateway allows "
                f"{config.requests_per_s:g} a second with bursts of {config.burst} "
                f"(rate_limit); retry after {retry_after} s.",
                "RATE_LIMITED",
                retryAfter=retry_after,
            ),
            status=429,
            headers=[("retry-after", str(retry_after))],
        )

    def _admit_document(
        self, request: OperationRequest, schema: GraphQLSchema, sources: Sources
    ) -> OperationType:
        caller = request.caller
        if not caller.roles:
            raise Refused(
                "caller",
                GatewayError(
                    "Authenticate first: an API key in the Authorization header or in the "
                    "connection_init payload.",
                    "UNAUTHENTICATED",
                ),
                status=401,
            )
        query = request.query
        problem = _framing_problem(query, request.operation_name, request.variables)
        if problem is not None:
            raise Refused("document", GatewayError(problem, "BAD_USER_INPUT"), status=400)
        assert isinstance(query, str)
        if self.persisted.mode == "trusted" and not self.persisted.is_trusted(query):
            untrusted = Problem.NOT_TRUSTED
            raise Refused("trusted", GatewayError(untrusted.message, untrusted.code))
        documents = self.documents
        too_big = documents.size_error(query)
        if too_big is not None:
            raise Refused("size", too_big)
        if _HUGE_NUMBER.search(query):
            raise Refused(
                "tokens",
                GatewayError(
                    f"The document has a number of more than {_MAX_LITERAL_DIGITS} digits.",
                    "BAD_USER_INPUT",
                ),
                status=400,
            )
        try:
            document = documents.parse(query)
        except GatewayError as error:
            raise Refused("tokens", error) from None
        operation = _chosen_operation(document, request.operation_name)
        root = schema.get_root_type(operation.operation)
        fragments = {
            d.name.value: d for d in document.definitions if isinstance(d, FragmentDefinitionNode)
        }
        missing = missing_role(caller.roles, operation, root, fragments) if root else None
        if missing is not None:
            field, role = missing
            refused = Refused(
                "role",
                GatewayError(
                    f"Client '{caller.name}' lacks the {role} role, which {field} needs.",
                    "FORBIDDEN",
                ),
                status=403,
            )
            refused.action = field if operation.operation is OperationType.MUTATION else None
            raise refused
        errors = documents.validation_errors(schema, query, document)
        if errors:
            raise Refused("shape", *errors)
        too_costly = self.costs.cost_error(
            schema, query, document, request.operation_name, request.variables, sources
        )
        if too_costly is not None:
            raise Refused("cost", too_costly)
        return operation.operation


def _framing_problem(query: object, operation_name: object, variables: object) -> str | None:
    """What is wrong with the request's three parts as values, whatever transport sent them."""
    if not isinstance(query, str) or not query:
        return "Send the document as a non-empty string in 'query'."
    if operation_name is not None and not isinstance(operation_name, str):
        return "'operationName' must be a string or null."
    if not isinstance(variables, dict):
        return "'variables' must be an object or null."
    return None


def _chosen_operation(document: DocumentNode, name: str | None) -> OperationDefinitionNode:
    """The operation ``name`` picks (the only one when it is None), else ``Refused``.

    The specification makes several operations without ``operationName`` a request error;
    strawberry would run the first.
    """
    operations = [d for d in document.definitions if isinstance(d, OperationDefinitionNode)]
    if name is None:
        if len(operations) == 1:
            return operations[0]
        message = (
            "The document has several operations: send 'operationName' to choose one."
            if operations
            else "The document has no operation to run."
        )
    else:
        for operation in operations:
            if operation.name is not None and operation.name.value == name:
                return operation
        message = f"The document has no operation named '{name[:100]}'."
    raise Refused("operation", GatewayError(message, "BAD_USER_INPUT"), status=400)
