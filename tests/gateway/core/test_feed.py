"""The feed's filter and cursor state (gateway/core/feed.py), without GraphQL."""

from __future__ import annotations

import pytest

from adapters.base import Capability
from adapters.model import Execution, ExecutionStatus, Workflow
from gateway.core.errors import GatewayError
from gateway.core.feed import FeedSpec
from gateway.core.merge import Item, Position, Verdict

CONFIGURED = {
    "rv": frozenset({Capability.LIST, Capability.APPROVE}),
    "tl": frozenset({Capability.GET}),
    "zaia": frozenset({Capability.LIST}),
}
RUNNING = ExecutionStatus.RUNNING
WAITING = ExecutionStatus.WAITING_FOR_APPROVAL


def item(status: ExecutionStatus, *, complete: bool = True, workflow: str = "w") -> Item:
    execution = Execution(
        native_id="e1",
        status=status,
        upstream_status=None,
        raw={},
        workflow=Workflow(id=workflow, name=None, version=None),
    )
    return Item(execution, complete)


def code_of(error: pytest.ExceptionInfo[GatewayError]) -> object:
    return (error.value.extensions or {})["code"]


def test_sources_are_split_into_listed_and_skipped_in_config_order() -> None:
    spec = FeedSpec.read(CONFIGURED)
    assert (spec.listed, spec.skipped) == (("rv", "zaia"), ("tl",))
    only = FeedSpec.read(CONFIGURED, sources=["zaia", "tl"])
    assert (only.listed, only.skipped) == (("zaia",), ("tl",))


@pytest.mark.parametrize(
    "given",
    [{"sources": []}, {"sources": ["rv", "nope"]}, {"statuses": []}],
)
def test_an_empty_or_unknown_filter_is_bad_user_input(given: dict[str, list[str]]) -> None:
    with pytest.raises(GatewayError) as refused:
        FeedSpec.read(CONFIGURED, **given)  # type: ignore[arg-type]
    assert code_of(refused) == "BAD_USER_INPUT"


def test_a_cursor_is_good_only_for_its_own_filter() -> None:
    spec = FeedSpec.read(CONFIGURED, statuses=[WAITING])
    state = spec.state(20, {"rv": Position(cursor="c", offset=2).dump(), "zaia": None})
    page_size, positions = spec.resume(state)
    assert page_size == 20
    assert positions["rv"] == Position(cursor="c", offset=2)
    assert positions["zaia"].exhausted
    for other in (FeedSpec.read(CONFIGURED), FeedSpec.read(CONFIGURED, sources=["rv"])):
        with pytest.raises(GatewayError, match="another filter"):
            other.resume(state)
    for broken in ({**state, "p": 0}, {**state, "v": 2}, {**state, "s": {"rv": [1]}}):
        with pytest.raises(GatewayError, match="not one this gateway issued"):
            spec.resume(broken)


def test_judging_loads_a_listed_running_item_only_when_the_filter_tells_it_apart() -> None:
    waiting_only = FeedSpec.read(CONFIGURED, statuses=[WAITING])
    assert waiting_only.judge("rv", item(RUNNING, complete=False)) is Verdict.LOAD
    assert waiting_only.judge("rv", item(RUNNING)) is Verdict.DROP
    assert waiting_only.judge("zaia", item(RUNNING, complete=False)) is Verdict.DROP
    both = FeedSpec.read(CONFIGURED, statuses=[WAITING, RUNNING])
    assert both.judge("rv", item(RUNNING, complete=False)) is Verdict.KEEP
    by_workflow = FeedSpec.read(CONFIGURED, workflow_id="w")
    assert by_workflow.judge("rv", item(RUNNING, workflow="other")) is Verdict.DROP
    assert by_workflow.judge("rv", item(RUNNING)) is Verdict.KEEP


def test_page_sizes_and_the_upstream_status() -> None:
    plain = FeedSpec.read(CONFIGURED)
    assert [plain.page_size(n) for n in (1, 50, 100)] == [20, 51, 100]
    assert plain.upstream_status is None
    filtered = FeedSpec.read(CONFIGURED, statuses=[WAITING])
    assert filtered.page_size(1) == 100
    assert filtered.upstream_status is WAITING


def test_the_total_only_when_every_source_gave_one_and_nothing_filters() -> None:
    spec = FeedSpec.read(CONFIGURED)
    assert spec.total({"rv": 3, "zaia": 4}, failed=False) == 7
    assert spec.total({"rv": 3, "zaia": None}, failed=False) is None
    assert spec.total({"rv": 3}, failed=False) is None
    assert spec.total({"rv": 3, "zaia": 4}, failed=True) is None
    filtered = FeedSpec.read(CONFIGURED, workflow_id="w")
    assert filtered.total({"rv": 3, "zaia": 4}, failed=False) is None
