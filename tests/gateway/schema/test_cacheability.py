"""Only operations whose every field is fixed once its executions are terminal may be cached."""

from __future__ import annotations

import pytest
from graphql import GraphQLSchema, build_schema, parse

from gateway.schema import schema as gateway_schema
from gateway.schema.cacheability import FixedFields, is_cacheable
from gateway.schema.speed import graphql_schema
from tests.gateway.schema.test_schema_file import SCHEMA_FILE


@pytest.fixture(scope="module")
def schema() -> GraphQLSchema:
    return build_schema(SCHEMA_FILE.read_text())


@pytest.mark.parametrize(
    "document",
    [
        '{ execution(id: "rv:1") { id status steps { kind status } approvals { status reviewers { id } } } }',
        '{ executions(ids: ["rv:1"]) { id cost { amounts { amount currency } } workflow { id } } }',
        '{ execution(id: "rv:1") { source { name kind capabilities } } }',
        '{ node(id: "x") { id __typename ... on Execution { status } ... on Step { status } } }',
        "query One($id: ID!) { execution(id: $id) { ...Parts } } fragment Parts on Execution { id }",
    ],
)
def test_reads_of_executions_by_id_are_cacheable(schema: GraphQLSchema, document: str) -> None:
    assert is_cacheable(schema, parse(document), None)


@pytest.mark.parametrize(
    "document",
    [
        '{ execution(id: "rv:1") { id source { stats { calls } } } }',
        '{ execution(id: "rv:1") { source { health } } }',
        '{ execution(id: "rv:1") { id source { ...Live } } } fragment Live on Source { circuitState }',
        "{ sources { name } }",
        "{ pendingApprovals { edges { node { id } } } }",
        "{ executionFeed { edges { node { id } } } }",
        "{ __schema { types { name } } }",
        'mutation { approve(input: {approvalId: "x"}) { __typename } }',
    ],
)
def test_anything_live_or_a_mutation_is_not(schema: GraphQLSchema, document: str) -> None:
    assert not is_cacheable(schema, parse(document), None)


def test_the_operation_named_is_the_one_checked(schema: GraphQLSchema) -> None:
    document = parse('query A { execution(id: "a") { id } } query B { sources { name } }')
    assert is_cacheable(schema, document, "A")
    assert not is_cacheable(schema, document, "B")
    assert not is_cacheable(schema, document, None)  # two operations and no name: not run at all


def test_the_exported_sdl_declares_what_the_code_does(schema: GraphQLSchema) -> None:
    """schema.graphql, built again from its text, says what is fixed as the code does: the answer
    cache (which reads the SDL) and a client reading the schema see one rule."""
    served = FixedFields.of(graphql_schema(gateway_schema))
    exported = FixedFields.of(schema)
    assert (exported.types, exported.fields) == (served.types, served.fields)
    assert "Execution" in served.types
    assert ("Query", "execution") in served.fields


def test_a_field_not_declared_fixed_is_not_cacheable() -> None:
    declared = build_schema(
        "directive @fixedOnceTerminal on OBJECT | INTERFACE | FIELD_DEFINITION\n"
        "type Query { a: Thing @fixedOnceTerminal, b: Int }\n"
        "type Thing @fixedOnceTerminal { x: Int, y: Int }"
    )
    assert is_cacheable(declared, parse("{ a { x y } }"), None)
    assert not is_cacheable(declared, parse("{ a { x } b }"), None)
