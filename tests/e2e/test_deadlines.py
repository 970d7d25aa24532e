"""Approval deadlines end to end: the sandbox's Velt definitions carry ``slaMs`` on human nodes;
the gateway answers ``dueAt``/``overdue`` on approvals and in the inbox, a breached step is a
missed approval, and each definition is read once however many runs use it."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

import pytest

from sandbox import velt
from tests.serving import gateway_client, graphql

if TYPE_CHECKING:
    from collections.abc import AsyncIterator

    import httpx

    from sandbox import Sandbox

pytestmark = pytest.mark.e2e

DEFINITION_GET = "POST /v2/workflow/definitions/get"
START = """mutation ($input: StartExecutionInput!) {
  startExecution(input: $input) { ... on RunControlSuccess { executionId } }
}"""
APPROVALS = """query ($id: ID!) {
  execution(id: $id) {
    steps { status }
    approvals { status dueAt overdue requestedAt decidedBy decidedAt }
  }
}"""
INBOX = """{
  pendingApprovals(sources: ["velt"], first: 100) {
    edges { node { dueAt overdue requestedAt step { name }
                   execution { workflow { id version } } } }
    failedSources { source }
  }
}"""


@pytest.fixture
async def with_deadlines(sandbox_url: str) -> AsyncIterator[httpx.AsyncClient]:
    """The demo gateway with the Velt source's ``deadlines_from_definition`` on."""
    sources = {"velt": {"deadlines_from_definition": True}}
    async with gateway_client(sandbox_url, sources=sources) as client:
        yield client


def sla_ms(definition_id: str, node_id: str) -> int | None:
    definition = velt.DEFINITIONS.get(definition_id)
    nodes = definition["nodes"] if definition is not None else []
    node: dict[str, Any] = next((n for n in nodes if n["nodeId"] == node_id), {})
    value = node.get("slaMs")
    return int(value) if value is not None else None


def when(value: str) -> datetime:
    return datetime.fromisoformat(value)


async def test_a_started_run_is_due_its_sla_and_not_overdue(
    with_deadlines: httpx.AsyncClient, sandbox: Sandbox
) -> None:
    started = await graphql(
        with_deadlines,
        START,
        {
            "input": {
                "source": "velt",
                "workflowId": "marketing-copy-approval",
                "inputs": {},
                "idempotencyKey": "deadline-1",
            }
        },
    )
    assert "errors" not in started, started
    execution_id = started["data"]["startExecution"]["executionId"]
    body = await graphql(with_deadlines, APPROVALS, {"id": execution_id})
    assert "errors" not in body, body
    (approval,) = body["data"]["execution"]["approvals"]
    assert approval["status"] == "PENDING"
    due = when(approval["dueAt"]) - when(approval["requestedAt"])
    assert due == timedelta(milliseconds=sla_ms("marketing-copy-approval", "human-review") or 0)
    assert approval["overdue"] is False
    assert sandbox.stats.calls[DEFINITION_GET] == 1


async def test_the_inbox_shows_deadlines_read_once_per_definition(
    with_deadlines: httpx.AsyncClient, sandbox: Sandbox
) -> None:
    body = await graphql(with_deadlines, INBOX)
    assert "errors" not in body, body
    inbox = body["data"]["pendingApprovals"]
    assert inbox["failedSources"] == []
    nodes = [edge["node"] for edge in inbox["edges"]]
    definitions = {node["execution"]["workflow"]["id"] for node in nodes}
    assert len(nodes) > len(definitions) > 1
    assert sandbox.stats.calls[DEFINITION_GET] == len(definitions)

    now = datetime.now(UTC)
    dated = 0
    for node in nodes:
        workflow = node["execution"]["workflow"]
        current = velt.DEFINITIONS[workflow["id"]]["version"]
        sla = sla_ms(workflow["id"], node["step"]["name"])
        if sla is None or int(workflow["version"]) != current:
            # No SLA on the node, or an old version (not readable): no deadline, none missed.
            assert (node["dueAt"], node["overdue"]) == (None, False)
            continue
        dated += 1
        due = when(node["dueAt"])
        assert due - when(node["requestedAt"]) == timedelta(milliseconds=sla)
        assert node["overdue"] is (due <= now)  # seeded runs waited months: long past due
    assert dated > 0

    again = await graphql(with_deadlines, INBOX)
    assert again["data"]["pendingApprovals"]["edges"] == inbox["edges"]
    assert sandbox.stats.calls[DEFINITION_GET] == len(definitions)


async def test_a_breached_step_reads_as_a_missed_approval(
    with_deadlines: httpx.AsyncClient, sandbox: Sandbox
) -> None:
    breached = [
        run
        for run in sandbox.velt.executions.values()
        if any(step["status"] == "breached" for step in run["steps"])
    ]
    assert breached, "the seeded data must hold a breached human step"
    for run in breached:
        body = await graphql(with_deadlines, APPROVALS, {"id": f"velt:{run['executionId']}"})
        assert "errors" not in body, body
        execution: dict[str, Any] = body["data"]["execution"]
        assert "TIMED_OUT" in [step["status"] for step in execution["steps"]]
        (approval,) = execution["approvals"]
        assert approval["status"] == "REJECTED"
        assert approval["overdue"] is True
        assert approval["decidedBy"] is None
        current = velt.DEFINITIONS[run["definitionId"]]["version"]
        if run["definitionVersion"] == current:
            assert approval["dueAt"] == approval["decidedAt"]
        else:
            assert approval["dueAt"] is None


async def test_without_the_option_no_definition_is_read_and_a_breach_still_shows(
    gateway: httpx.AsyncClient, sandbox: Sandbox
) -> None:
    body = await graphql(gateway, INBOX)
    nodes = [edge["node"] for edge in body["data"]["pendingApprovals"]["edges"]]
    assert nodes
    assert {(node["dueAt"], node["overdue"]) for node in nodes} == {(None, False)}
    breached = next(
        run
        for run in sandbox.velt.executions.values()
        if any(step["status"] == "breached" for step in run["steps"])
    )
    missed = await graphql(gateway, APPROVALS, {"id": f"velt:{breached['executionId']}"})
    (approval,) = missed["data"]["execution"]["approvals"]
    assert (approval["status"], approval["dueAt"], approval["overdue"]) == ("REJECTED", None, True)
    assert sandbox.stats.calls[DEFINITION_GET] == 0
