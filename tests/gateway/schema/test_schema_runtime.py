"""Process-level and schema-level speed-ups that must not change behaviour."""

from __future__ import annotations

import gc
import json
from types import SimpleNamespace

import pytest
from graphql import GraphQLEnumType, GraphQLError, GraphQLObjectType

from adapters.model import ExecutionStatus, StepKind
from gateway.http.app import GatewayGraphQL
from gateway.ops.heap import YOUNG_GENERATION_THRESHOLD, settle_heap
from gateway.schema import schema
from gateway.schema.computed import Computed
from gateway.schema.speed import fields, graphql_schema


@pytest.mark.parametrize("member", [*StepKind, *ExecutionStatus])
def test_enum_members_serialize_to_their_graphql_names(member: StepKind | ExecutionStatus) -> None:
    enum_type = graphql_schema(schema).type_map[type(member).__name__]
    assert isinstance(enum_type, GraphQLEnumType)
    assert enum_type.serialize(member) == member.name


def test_a_value_outside_the_enum_is_still_refused() -> None:
    enum_type = graphql_schema(schema).type_map["StepKind"]
    assert isinstance(enum_type, GraphQLEnumType)
    with pytest.raises(GraphQLError, match="cannot represent value"):
        enum_type.serialize("NOT_A_KIND")


def test_settle_heap_freezes_what_exists_and_leaves_collection_on() -> None:
    thresholds = gc.get_threshold()
    try:
        settle_heap()
        assert gc.get_freeze_count() > 0
        assert gc.isenabled()
        assert gc.get_threshold() == (YOUNG_GENERATION_THRESHOLD, *thresholds[1:])
    finally:
        gc.unfreeze()
        gc.set_threshold(*thresholds)


def test_answers_encode_with_orjson_and_fall_back_for_what_it_cannot() -> None:
    view = GatewayGraphQL.__new__(GatewayGraphQL)  # encode_json uses no state
    assert view.encode_json({"data": {"a": "é", "n": 1}}) == '{"data":{"a":"é","n":1}}'.encode()
    huge = view.encode_json({"data": {"raw": {"n": 2**70}}})
    assert json.loads(huge) == {"data": {"raw": {"n": 2**70}}}


def test_plain_fields_are_read_directly_and_resolver_fields_keep_theirs() -> None:
    step, execution = (graphql_schema(schema).type_map[name] for name in ("Step", "Execution"))
    assert isinstance(step, GraphQLObjectType)
    assert isinstance(execution, GraphQLObjectType)
    direct_read = fields._computed_attribute("any").__code__
    plain = [step.fields["kind"], step.fields["startedAt"], execution.fields["id"]]
    plain += [execution.fields["status"], execution.fields["steps"]]
    assert all(getattr(f.resolve, "__code__", None) is direct_read for f in plain)
    # The GraphQL name maps to the Python attribute, and a Computed value is computed.
    assert step.fields["startedAt"].resolve(SimpleNamespace(started_at="then"), None) == "then"
    later = SimpleNamespace(n=2, steps=Computed(lambda source: ["step"] * source.n))
    assert execution.fields["steps"].resolve(later, None) == ["step", "step"]
    # Step.id has a resolver of its own (it encodes the id), so strawberry's path stays.
    assert getattr(step.fields["id"].resolve, "__code__", None) is not direct_read


def test_request_bodies_decode_exactly_as_the_standard_library_would() -> None:
    view = GatewayGraphQL.__new__(GatewayGraphQL)  # decode_json uses no state
    body = b'{"query": "{ x }", "variables": {"n": 123456789012345678901234, "s": "\\u00e9"}}'
    assert view.decode_json(body) == json.loads(body)
    with pytest.raises(json.JSONDecodeError):  # text (GET variables): NaN is not JSON, a 400
        view.decode_json('{"a": NaN}')
    with pytest.raises(json.JSONDecodeError):  # strawberry turns this into a 400
        view.decode_json(b'{"query": ')
