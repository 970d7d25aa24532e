"""The schema's one extension's document caches."""

from __future__ import annotations

import pytest
from graphql import GraphQLSyntaxError, specified_rules
from graphql.validation import NoSchemaIntrospectionCustomRule

from gateway.gate.documents import DocumentCaches
from gateway.schema import schema
from gateway.schema.speed import graphql_schema

RULES = tuple(specified_rules)
QUERY = "{ sources { name } }"


def test_a_text_parses_once() -> None:
    caches = DocumentCaches(parsed=4, validated=4)
    first = caches.parse(QUERY, max_tokens=100)
    assert caches.parse(QUERY, max_tokens=100) is first
    assert caches.parse(QUERY + " ", max_tokens=100) is not first


def test_a_syntax_error_is_raised_every_time() -> None:
    caches = DocumentCaches(parsed=4, validated=4)
    for _ in range(2):
        with pytest.raises(GraphQLSyntaxError):
            caches.parse("{ sources { ", max_tokens=100)


def test_validation_is_kept_per_text_and_rules_and_handed_out_as_copies() -> None:
    caches = DocumentCaches(parsed=4, validated=4)
    text = "{ __schema { queryType { name } } }"
    document = caches.parse(text)
    core_schema = graphql_schema(schema)
    assert caches.validate(text, document, core_schema, RULES) == []

    closed = (*RULES, NoSchemaIntrospectionCustomRule)
    errors = caches.validate(text, document, core_schema, closed)
    assert errors
    messages = [e.message for e in errors]
    assert all("introspection has been disabled" in m for m in messages)
    errors.clear()  # a request rewording its copy leaves the cache alone
    again = caches.validate(text, document, core_schema, closed)
    assert [e.message for e in again] == messages
    assert caches.validate(text, document, core_schema, RULES) == []
