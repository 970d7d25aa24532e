"""A run started or cancelled through the gateway reaches its subscribers without a webhook:
the gateway's own change is a hint, and the run is re-read from the upstream."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import pytest

from tests.live.support import Live, TransportWS
from tests.serving import graphql

if TYPE_CHECKING:
    import httpx

pytestmark = pytest.mark.e2e

CHANGED = "subscription($id: ID!) { executionChanged(id: $id) { id status } }"
START = """mutation ($input: StartExecutionInput!) {
  startExecution(input: $input) { ... on RunControlSuccess { executionId } }
}"""
CANCEL = """mutation ($input: CancelExecutionInput!) {
  cancelExecution(input: $input) { __typename }
}"""


async def mutate(client: httpx.AsyncClient, query: str, **input: Any) -> dict[str, Any]:
    body = await graphql(client, query, {"input": input})
    assert "errors" not in body, body
    (result,) = body["data"].values()
    assert isinstance(result, dict)
    return result


@pytest.mark.parametrize(
    "start",
    [
        pytest.param({"source": "rv", "workflowId": "wf_support_triage"}, id="rotavision"),
        pytest.param({"source": "velt", "workflowId": "marketing-copy-approval"}, id="velt"),
    ],
)
async def test_a_subscriber_sees_a_started_run_cancelled(live: Live, start: dict[str, Any]) -> None:
    started = await mutate(live.http, START, inputs={}, idempotencyKey="live-1", **start)
    execution_id = started["executionId"]
    async with TransportWS.open(live.ws_url) as client:
        await client.subscribe("1", CHANGED, {"id": execution_id})
        first = await client.receive()
        assert first["payload"]["data"]["executionChanged"]["status"] in (
            "RUNNING",
            "WAITING_FOR_APPROVAL",
        )
        cancelled = await mutate(live.http, CANCEL, executionId=execution_id)
        assert cancelled == {"__typename": "RunControlSuccess"}
        second = await client.receive()
        assert second["payload"]["data"]["executionChanged"] == {
            "id": execution_id,
            "status": "CANCELLED",
        }
        assert await client.receive() == {"id": "1", "type": "complete"}
