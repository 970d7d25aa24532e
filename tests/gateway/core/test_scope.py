"""ClientScope on its own: what a scope lets through, and the fingerprint every cache key and
cursor of a scoped caller carries (tests/e2e/test_scope.py drives the same over every transport)."""

from __future__ import annotations

from typing import TYPE_CHECKING

import pytest

from adapters.model import Execution, ExecutionStatus, Workflow
from gateway.core.scope import EVERY_PARTITION, ClientScope, fingerprint

if TYPE_CHECKING:
    from collections.abc import Callable


def run(workflow: str | None) -> Execution:
    return Execution(
        native_id="e1",
        status=ExecutionStatus.RUNNING,
        upstream_status="running",
        raw={},
        workflow=Workflow(workflow) if workflow is not None else None,
    )


def by_workflow(execution: Execution) -> str | None:
    return execution.workflow.id if execution.workflow is not None else None


SCOPE = ClientScope.of({"rv": EVERY_PARTITION, "velt": ["billing", "refunds"]})


def test_the_config_form_becomes_partitions_per_source() -> None:
    assert dict(SCOPE.partitions) == {"rv": None, "velt": frozenset({"billing", "refunds"})}


def test_the_fingerprint_is_pinned_and_does_not_depend_on_order_or_repeats() -> None:
    """It is in cursors and shared cache keys: replicas on two versions must agree on it, so a
    change to how it is computed is a change to every open cursor (a test, not an accident)."""
    assert SCOPE.fingerprint == "1596751dbd1f7d84"
    same = ClientScope.of({"velt": ["refunds", "billing", "refunds"], "rv": "*"})
    assert same.fingerprint == SCOPE.fingerprint
    assert same == SCOPE


@pytest.mark.parametrize(
    "other",
    [
        {"rv": "*"},
        {"rv": "*", "velt": ["billing"]},
        {"rv": ["billing", "refunds"], "velt": "*"},
        {"rv": "*", "velt": "*"},
        {"zaia": "*", "velt": ["billing", "refunds"]},
    ],
)
def test_another_scope_has_another_fingerprint(other: dict[str, str | list[str]]) -> None:
    assert ClientScope.of(other).fingerprint != SCOPE.fingerprint


def test_no_scope_adds_nothing_to_a_key() -> None:
    assert fingerprint(None) == ""
    assert fingerprint(SCOPE) == SCOPE.fingerprint
    assert len(SCOPE.fingerprint) == 16


@pytest.mark.parametrize(
    ("source", "workflow", "allowed"),
    [
        ("rv", "anything", True),  # every partition
        ("rv", None, True),
        ("velt", "billing", True),
        ("velt", "refunds", True),
        ("velt", "payroll", False),
        ("velt", None, False),  # no partition is not a partition in scope
        ("zaia", "billing", False),  # a source out of scope
    ],
)
def test_allows_reads_the_partition_its_source_declares(
    source: str, workflow: str | None, allowed: bool
) -> None:
    assert SCOPE.allows(source, run(workflow), by_workflow) is allowed


def test_the_partition_reader_is_the_sources_own() -> None:
    seen: list[Execution] = []
    execution = run("billing")

    def reader(candidate: Execution) -> str | None:
        seen.append(candidate)
        return "refunds"

    partition_of: Callable[[Execution], str | None] = reader
    assert SCOPE.allows("velt", execution, partition_of)
    assert seen == [execution]
    assert SCOPE.allows("rv", execution, partition_of)
    assert seen == [execution]  # every partition: no need to read it


def test_sources_keeps_those_in_scope_in_their_order() -> None:
    assert SCOPE.sources(["zaia", "velt", "tl", "rv"]) == ["velt", "rv"]
    assert SCOPE.has_source("velt")
    assert not SCOPE.has_source("zaia")
