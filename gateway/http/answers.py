"""The view's side of persisted queries and the response cache: what runs, and what may be kept.

``resolve_document`` turns a request's hash into its document (or a GraphQL error answer);
``AnswerVerdicts.mark`` tells ``AnswerCacheMiddleware`` whether the answer just computed may be
kept: the operation selects only fields fixed once their executions are terminal (checked once per
document), the answer has no error, and every execution it read is terminal and cacheable by its
source's TTL.
"""

from __future__ import annotations

import dataclasses
import math
from typing import TYPE_CHECKING

from cachetools import LRUCache
from graphql import GraphQLSchema, GraphQLSyntaxError, parse

from gateway.core.errors import GatewayError
from gateway.core.persisted import PersistedQueryError
from gateway.gate import Refused
from gateway.http.answer_cache import ANSWER_TAGS, ANSWER_TTL
from gateway.schema.cacheability import is_cacheable
from gateway.schema.gating import RefusedResult

if TYPE_CHECKING:
    from collections.abc import MutableMapping

    from strawberry.http import GraphQLRequestData
    from strawberry.types import ExecutionResult

    from gateway.core.persisted import PersistedQueries
    from gateway.core.store import ExecutionStore
    from gateway.schema.context import Context

__all__ = ["AnswerVerdicts", "resolve_document"]

VERDICTS_KEPT = 512


def resolve_document(
    persisted: PersistedQueries, request_data: GraphQLRequestData
) -> GraphQLRequestData | RefusedResult:
    """The request with its document in place (a hash read as its text: framing), or the error
    answer a persisted-query client expects. Whether the text may run is the gate's."""
    try:
        text = persisted.resolve(request_data.query, request_data.extensions)
    except PersistedQueryError as exc:
        error = GatewayError(exc.problem.message, exc.problem.code)
        return RefusedResult.of(Refused("document", error))
    if text is request_data.query:
        return request_data
    return dataclasses.replace(request_data, query=text)


class AnswerVerdicts:
    """Per document text and operation name: may its answers be cached at all (the static part)."""

    def __init__(self, schema: GraphQLSchema) -> None:
        """``schema``: the one served (a federated subgraph's printed SDL drops the applied
        directives the verdict reads)."""
        self._schema = schema
        self._verdicts: LRUCache[tuple[str, str | None], bool] = LRUCache(maxsize=VERDICTS_KEPT)

    def document_cacheable(self, text: str, operation_name: str | None) -> bool:
        key = (text, operation_name)
        verdict = self._verdicts.get(key)
        if verdict is None:
            try:
                verdict = is_cacheable(self._schema, parse(text), operation_name)
            except GraphQLSyntaxError:
                verdict = False
            self._verdicts[key] = verdict
        return verdict

    def mark(
        self,
        state: MutableMapping[str, object],
        request_data: GraphQLRequestData,
        result: ExecutionResult,
        context: Context,
        store: ExecutionStore,
    ) -> None:
        """Put the answer's tags and TTL in the request state when it may be kept."""
        if result.errors or result.data is None or not request_data.query:
            return
        if not self.document_cacheable(request_data.query, request_data.operation_name):
            return
        tags: list[tuple[str, str]] = []
        ttl = math.inf
        for source, execution in context.loaders.loaded():
            if not execution.is_terminal:
                return
            kept_for = store.ttl(source, execution)
            if kept_for <= 0:
                return
            ttl = min(ttl, kept_for)
            tags.append((source, execution.native_id))
        if not tags:
            return
        state[ANSWER_TAGS] = frozenset(tags)
        state[ANSWER_TTL] = ttl
