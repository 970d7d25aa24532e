"""Global ids: round trips, and every hostile id refused before any upstream call."""

from __future__ import annotations

import pytest

from gateway.core.ids import (
    ApprovalRef,
    ExecutionRef,
    InvalidId,
    StepRef,
    approval_id,
    execution_id,
    parse_id,
    step_id,
)


@pytest.mark.parametrize(
    "native",
    [
        pytest.param("exec_xyz789", id="rotavision"),
        pytest.param("maip-orch:01JABCDEF", id="colon-in-native"),
        pytest.param("group_parallel-review__to__agent-publish", id="velt-step"),
        pytest.param("3c90c3cc-0d44-4b50-8888-8dd25736052a", id="uuid"),
    ],
)
def test_ids_round_trip(native: str) -> None:
    assert parse_id(execution_id("src", native)) == ExecutionRef("src", native)
    assert parse_id(step_id("src", native, "step_1")) == StepRef(
        ExecutionRef("src", native), "step_1"
    )
    assert parse_id(approval_id("src", native, "")) == ApprovalRef(ExecutionRef("src", native), "")


@pytest.mark.parametrize(
    "value",
    [
        pytest.param("rv:a/b", id="slash"),
        pytest.param("rv:..", id="dot-dot"),
        pytest.param("rv:.", id="dot"),
        pytest.param("rv:50%25", id="percent"),
        pytest.param("rv:a?b", id="query"),
        pytest.param("rv:a\r\nX-Evil: 1", id="crlf"),
        pytest.param("rv:a\x00b", id="nul"),
        pytest.param("rv:" + "a" * 10_000, id="10kB"),
        pytest.param("rv:", id="empty-native"),
        pytest.param("RV:x", id="bad-source"),
        pytest.param("noColon", id="not-base64-json"),
        pytest.param("WyJaIiwicnYiLCJ4IiwieSJd", id="unknown-tag"),
        pytest.param("", id="empty"),
        pytest.param("rv:a b", id="space"),
        pytest.param("rv:é", id="non-ascii"),
    ],
)
def test_hostile_ids_are_refused(value: str) -> None:
    with pytest.raises(InvalidId) as caught:
        parse_id(value)
    message = str(caught.value)
    assert "\r" not in message
    assert "\x00" not in message
    assert len(message) < 300
