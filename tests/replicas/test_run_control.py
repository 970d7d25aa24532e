"""Run control over two replicas sharing one real Redis: one upstream start, one cancel."""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING, Any

import pytest

from tests.replicas.test_shared_state import replica
from tests.serving import graphql

if TYPE_CHECKING:
    import httpx

    from sandbox import Sandbox
    from tests.redis_server import RedisServer

pytestmark = pytest.mark.e2e

RV_RUN = "POST /v1/orchestrate/workflows/{workflow_id}/run"
RV_CANCEL = "POST /v1/orchestrate/executions/{execution_id}/cancel"
TL_EXECUTE = "POST /v1/orchestrations/execute"
RESULT = (
    "__typename ... on RunControlSuccess { executionId replayed } ... on RunControlError { code }"
)
START = (
    f"mutation ($input: StartExecutionInput!) {{ startExecution(input: $input) {{ {RESULT} }} }}"
)
FINISHED = RESULT + " ... on RunAlreadyFinished { finalStatus }"
CANCEL = f"mutation ($input: CancelExecutionInput!) {{ cancelExecution(input: $input) {{ {FINISHED} }} }}"


async def call(client: httpx.AsyncClient, query: str, **input: Any) -> dict[str, Any]:
    body = await graphql(client, query, {"input": input})
    assert "errors" not in body, body
    (result,) = body["data"].values()
    assert isinstance(result, dict)
    return result


@pytest.mark.parametrize(
    ("start", "template"),
    [
        pytest.param({"source": "rv", "workflowId": "wf_lead_scoring"}, RV_RUN, id="rotavision"),
        pytest.param({"source": "tl", "agentId": "maip-agent:01JX"}, TL_EXECUTE, id="truthlocks"),
    ],
)
async def test_fifty_concurrent_identical_starts_over_two_replicas_make_one_upstream_start(
    sandbox_url: str,
    sandbox: Sandbox,
    redis_server: RedisServer,
    start: dict[str, Any],
    template: str,
) -> None:
    sandbox.faults.update({"latency_ms": 100, "only": template.split(" ", 1)[1]})
    async with (
        replica(sandbox_url, redis_server.url) as a,
        replica(sandbox_url, redis_server.url) as b,
    ):
        results = await asyncio.gather(
            *(
                call((a, b)[n % 2], START, inputs={"n": 1}, idempotencyKey="fifty", **start)
                for n in range(50)
            )
        )
        assert {r["__typename"] for r in results} == {"RunControlSuccess"}, results
        assert len({r["executionId"] for r in results}) == 1
        assert sum(not r["replayed"] for r in results) == 1
        assert sandbox.stats.calls[template] == 1
        # The key is shared: other input under it is a conflict on either replica.
        other = await call(b, START, inputs={"n": 2}, idempotencyKey="fifty", **start)
        assert other["__typename"] == "IdempotencyKeyConflict"
    assert sandbox.stats.calls[template] == 1


async def test_cancel_twice_over_two_replicas_is_one_upstream_cancel_and_two_answers(
    sandbox_url: str, sandbox: Sandbox, redis_server: RedisServer
) -> None:
    async with (
        replica(sandbox_url, redis_server.url) as a,
        replica(sandbox_url, redis_server.url) as b,
    ):
        started = await call(
            a, START, source="rv", workflowId="wf_invoice_review", inputs={}, idempotencyKey="c"
        )
        first, second = await asyncio.gather(
            call(a, CANCEL, executionId=started["executionId"]),
            call(b, CANCEL, executionId=started["executionId"]),
        )
        answers = sorted([first["__typename"], second["__typename"]])
        assert answers in (
            ["RunControlSuccess", "RunControlSuccess"],
            ["RunAlreadyFinished", "RunControlSuccess"],
        )
        for answer in (first, second):
            if answer["__typename"] == "RunAlreadyFinished":
                assert answer["finalStatus"] == "CANCELLED"
        later = await call(b, CANCEL, executionId=started["executionId"])
        assert later == {
            "__typename": "RunAlreadyFinished",
            "code": "CONFLICT",
            "finalStatus": "CANCELLED",
        }
    assert sandbox.stats.calls[RV_CANCEL] == 1
