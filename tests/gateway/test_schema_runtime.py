"""Process-level and schema-level speed-ups that must not change behaviour."""

from __future__ import annotations

import gc

import pytest
from graphql import GraphQLEnumType, GraphQLError

from adapters.model import ExecutionStatus, StepKind
from gateway.heap import YOUNG_GENERATION_THRESHOLD, settle_heap
from gateway.schema import schema


@pytest.mark.parametrize("member", [*StepKind, *ExecutionStatus])
def test_enum_members_serialize_to_their_graphql_names(member: StepKind | ExecutionStatus) -> None:
    enum_type = schema._schema.type_map[type(member).__name__]
    assert isinstance(enum_type, GraphQLEnumType)
    assert enum_type.serialize(member) == member.name


def test_a_value_outside_the_enum_is_still_refused() -> None:
    enum_type = schema._schema.type_map["StepKind"]
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
