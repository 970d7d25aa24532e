"""A ``langgraph`` source against LangGraph's real Agent Server (in memory), beside the four others.

Threads are made on the server itself (the fixtures' ``review`` graph stops at its interrupt);
everything else goes through the gateway over HTTP, and the graph's own state says what it got.
"""

from __future__ import annotations

import asyncio
import json
from typing import TYPE_CHECKING, Any

import pytest

from gateway.core import ids
from gateway.demo import DEMO_REVIEWER
from tests.langgraph.server import agent_server
from tests.langgraph.support import (
    SOURCE,
    gateway_config,
    lg_gateway,
    thread_runs,
    wait_idle,
    waiting_thread,
)
from tests.serving import graphql

if TYPE_CHECKING:
    from pathlib import Path

    import httpx

    from tests.redis_server import RedisServer

pytestmark = pytest.mark.e2e

EXECUTION = """query ($id: ID!) {
  execution(id: $id) {
    id status upstreamStatus source { name kind } workflow { id }
    steps { name kind status nativeId }
    approvals { id status message context decidedBy notes step { nativeId } }
  }
}"""
DECIDE = """mutation ($input: DecisionInput!) {
  %s(input: $input) {
    __typename
    ... on DecisionSuccess { alreadyRecorded approval { id status } }
    ... on DecisionError { code message }
  }
}"""


async def decide(
    client: httpx.AsyncClient, verb: str, approval_id: str, notes: str | None = None
) -> dict[str, Any]:
    body = await graphql(
        client, DECIDE % verb, {"input": {"approvalId": approval_id, "notes": notes}}
    )
    assert "errors" not in body, body
    result: dict[str, Any] = body["data"][verb]
    return result


async def read(client: httpx.AsyncClient, thread_id: str) -> dict[str, Any]:
    body = await graphql(client, EXECUTION, {"id": f"{SOURCE}:{thread_id}"})
    assert "errors" not in body, body
    execution: dict[str, Any] = body["data"]["execution"]
    return execution


async def test_a_thread_waiting_on_an_interrupt_is_waiting_for_approval_with_its_approval(
    sandbox_url: str, langgraph_url: str
) -> None:
    thread_id, interrupt_id = await waiting_thread(langgraph_url, "owls")
    async with lg_gateway(gateway_config(sandbox_url, langgraph_url)) as client:
        execution = await read(client, thread_id)
    assert execution["status"] == "WAITING_FOR_APPROVAL"
    assert execution["upstreamStatus"] == "interrupted"
    assert execution["source"] == {"name": SOURCE, "kind": "LANGGRAPH"}
    assert execution["workflow"] == {"id": "review"}
    assert [(s["name"], s["kind"], s["status"]) for s in execution["steps"]] == [
        ("draft", "UNKNOWN", "COMPLETED"),
        ("review", "HUMAN_APPROVAL", "WAITING_FOR_APPROVAL"),
    ]
    (approval,) = execution["approvals"]
    assert approval["id"] == ids.approval_id(SOURCE, thread_id, interrupt_id)
    assert approval["status"] == "PENDING"
    assert approval["message"] == "Publish this draft?"
    assert approval["context"] == {
        "question": "Publish this draft?",
        "draft": "A short note about owls.",
    }
    assert approval["step"]["nativeId"] == execution["steps"][1]["nativeId"]


async def test_approve_through_the_gateway_resumes_the_graph_with_approve(
    sandbox_url: str, langgraph_url: str
) -> None:
    thread_id, interrupt_id = await waiting_thread(langgraph_url, "herons")
    approval_id = ids.approval_id(SOURCE, thread_id, interrupt_id)
    async with lg_gateway(gateway_config(sandbox_url, langgraph_url)) as client:
        result = await decide(client, "approve", approval_id, "fine")
        assert result == {
            "__typename": "DecisionSuccess",
            "alreadyRecorded": False,
            "approval": {"id": approval_id, "status": "APPROVED"},
        }
        thread = await wait_idle(langgraph_url, thread_id)
        assert thread["values"]["decision"] == "approve"  # what interrupt(...) returned
        assert thread["values"]["outcome"] == "published"
        execution = await read(client, thread_id)
    assert [s["status"] for s in execution["steps"]] == ["COMPLETED"] * 3
    (approval,) = execution["approvals"]
    assert (approval["id"], approval["status"]) == (approval_id, "APPROVED")
    assert approval["decidedBy"] == DEMO_REVIEWER
    assert approval["message"] == "Publish this draft?"


async def test_reject_with_the_object_format_resumes_with_the_decision_notes_and_reviewer(
    sandbox_url: str, langgraph_url: str
) -> None:
    thread_id, interrupt_id = await waiting_thread(langgraph_url, "crows")
    approval_id = ids.approval_id(SOURCE, thread_id, interrupt_id)
    config = gateway_config(sandbox_url, langgraph_url, source={"resume_format": "object"})
    async with lg_gateway(config) as client:
        result = await decide(client, "reject", approval_id, "too short")
        assert result["approval"] == {"id": approval_id, "status": "REJECTED"}
        thread = await wait_idle(langgraph_url, thread_id)
        assert thread["values"]["decision"] == {
            "decision": "reject",
            "notes": "too short",
            "reviewer": DEMO_REVIEWER,
        }
        assert thread["values"]["outcome"] == "discarded"
        (approval,) = (await read(client, thread_id))["approvals"]
    assert (approval["status"], approval["notes"]) == ("REJECTED", "too short")
    assert approval["decidedBy"] == DEMO_REVIEWER


async def test_a_second_decision_after_the_graph_moved_on_sends_nothing(
    sandbox_url: str, langgraph_url: str
) -> None:
    thread_id, interrupt_id = await waiting_thread(langgraph_url, "finches")
    approval_id = ids.approval_id(SOURCE, thread_id, interrupt_id)
    async with lg_gateway(gateway_config(sandbox_url, langgraph_url)) as client:
        assert (await decide(client, "approve", approval_id))["__typename"] == "DecisionSuccess"
        await wait_idle(langgraph_url, thread_id)
        late = await decide(client, "reject", approval_id)
    assert late["__typename"] != "DecisionSuccess"
    commands = [r for r in await thread_runs(langgraph_url, thread_id) if r["kwargs"]["command"]]
    assert len(commands) == 1


async def test_two_replicas_approving_at_once_resume_the_thread_once(
    sandbox_url: str, langgraph_url: str, redis_server: RedisServer
) -> None:
    thread_id, interrupt_id = await waiting_thread(langgraph_url, "gulls")
    approval_id = ids.approval_id(SOURCE, thread_id, interrupt_id)
    env = {"REDIS_URL": redis_server.url, "CURSOR_SECRET": "s" * 32}

    def config() -> Any:
        return gateway_config(
            sandbox_url,
            langgraph_url,
            env,
            state={"backend": "redis", "redis_url_env": "REDIS_URL", "timeout_s": 2.0},
            server={"cursor_secret_env": "CURSOR_SECRET"},
            cache={"answers_max_entries": 0},
        )

    async with lg_gateway(config()) as a, lg_gateway(config()) as b:
        results = await asyncio.gather(
            *(decide(client, "approve", approval_id, "ok") for client in (a, b, a, b, a, b))
        )
    assert {r["__typename"] for r in results} == {"DecisionSuccess"}
    await wait_idle(langgraph_url, thread_id)
    commands = [r for r in await thread_runs(langgraph_url, thread_id) if r["kwargs"]["command"]]
    assert len(commands) == 1
    assert commands[0]["kwargs"]["command"]["resume"] == {interrupt_id: "approve"}


FEED = """query ($first: Int!) {
  executionFeed(first: $first) {
    edges { node { id source { name } } }
    failedSources { source code }
  }
}"""
PENDING = """query {
  pendingApprovals(first: 100) {
    edges { node { id status execution { id source { name kind } } } }
    failedSources { source code }
  }
}"""


async def test_the_feed_and_the_inbox_show_the_thread_beside_the_other_four(
    sandbox_url: str, langgraph_url: str
) -> None:
    thread_id, interrupt_id = await waiting_thread(langgraph_url, "swifts")
    async with lg_gateway(gateway_config(sandbox_url, langgraph_url)) as client:
        feed = await graphql(client, FEED, {"first": 100})
        inbox = await graphql(client, PENDING)
    assert "errors" not in feed, feed
    assert feed["data"]["executionFeed"]["failedSources"] == []
    fed = [e["node"] for e in feed["data"]["executionFeed"]["edges"]]
    assert f"{SOURCE}:{thread_id}" in [n["id"] for n in fed]
    assert "errors" not in inbox, inbox
    assert inbox["data"]["pendingApprovals"]["failedSources"] == []
    waiting = [e["node"] for e in inbox["data"]["pendingApprovals"]["edges"]]
    assert ids.approval_id(SOURCE, thread_id, interrupt_id) in [a["id"] for a in waiting]
    kinds = {a["execution"]["source"]["kind"] for a in waiting}
    assert {"LANGGRAPH", "ROTAVISION", "VELT"} <= kinds


RUN = "__typename ... on RunControlSuccess { executionId } ... on RunControlError { code message }"
START = f"mutation ($input: StartExecutionInput!) {{ startExecution(input: $input) {{ {RUN} }} }}"
CANCEL = (
    f"mutation ($input: CancelExecutionInput!) {{ cancelExecution(input: $input) {{ {RUN} }} }}"
)


async def test_a_run_started_and_cancelled_through_the_gateway(
    sandbox_url: str, langgraph_url: str
) -> None:
    start = {
        "source": SOURCE,
        "idempotencyKey": "slow-1",
        "workflowId": "slow",
        "inputs": {"seconds": 30},
    }
    async with lg_gateway(gateway_config(sandbox_url, langgraph_url)) as client:
        started = await graphql(client, START, {"input": start})
        assert "errors" not in started, started
        execution_id = started["data"]["startExecution"]["executionId"]
        thread_id = execution_id.split(":", 1)[1]
        assert (await thread_runs(langgraph_url, thread_id))[0]["kwargs"]["input"] == {
            "seconds": 30
        }
        cancelled = await graphql(client, CANCEL, {"input": {"executionId": execution_id}})
        assert cancelled["data"]["cancelExecution"]["__typename"] == "RunControlSuccess"
        thread = await wait_idle(langgraph_url, thread_id)
        assert "done" not in (thread["values"] or {})  # the node never finished
        execution = await read(client, thread_id)
    assert execution["status"] == "CANCELLED"
    assert execution["workflow"] == {"id": "slow"}
    runs = await thread_runs(langgraph_url, thread_id)
    assert [r["status"] for r in runs] == ["interrupted"]


MULTIPART = 'multipart/mixed;subscriptionSpec="1.0", application/json'
CHANGED = "subscription ($id: ID!) { executionChanged(id: $id) { status } }"


async def test_a_subscriber_sees_the_thread_move_after_a_decision(
    sandbox_url: str, langgraph_url: str
) -> None:
    thread_id, interrupt_id = await waiting_thread(langgraph_url, "wrens")
    approval_id = ids.approval_id(SOURCE, thread_id, interrupt_id)
    body = {"query": CHANGED, "variables": {"id": f"{SOURCE}:{thread_id}"}}
    statuses: list[str] = []
    async with lg_gateway(gateway_config(sandbox_url, langgraph_url)) as client:

        async def watch() -> None:
            async with client.stream(
                "POST", "/graphql", json=body, headers={"accept": MULTIPART}
            ) as response:
                async for line in response.aiter_lines():
                    if not line.startswith("{"):
                        continue
                    part = json.loads(line)
                    if "payload" not in part:
                        continue
                    statuses.append(part["payload"]["data"]["executionChanged"]["status"])
                    if len(statuses) == 1:
                        assert (await decide(client, "approve", approval_id))["approval"]
                    if statuses[-1] == "COMPLETED":
                        return

        await asyncio.wait_for(watch(), timeout=30)
    assert statuses[0] == "WAITING_FOR_APPROVAL"
    assert statuses[-1] == "COMPLETED"


async def test_the_server_stopped_mid_test_gives_typed_errors_and_the_rest_of_the_answer(
    sandbox_url: str, tmp_path: Path
) -> None:
    server = agent_server(tmp_path / "server")
    server.start()
    try:
        thread_id, _ = await waiting_thread(server.url, "larks")
        async with lg_gateway(gateway_config(sandbox_url, server.url)) as client:
            assert (await read(client, thread_id))["status"] == "WAITING_FOR_APPROVAL"
            server.stop()
            ids_ = [f"{SOURCE}:{thread_id}", "rv:exec_wait0001"]
            body = await graphql(
                client,
                "query ($ids: [ID!]!) { executions(ids: $ids) { id status } }",
                {"ids": ids_},
            )
            inbox = await graphql(client, PENDING)
    finally:
        server.stop()
    lg, rv = body["data"]["executions"]
    assert lg is None
    assert rv == {"id": "rv:exec_wait0001", "status": "WAITING_FOR_APPROVAL"}
    (error,) = body["errors"]
    assert error["path"] == ["executions", 0]
    assert error["extensions"]["code"] == "UPSTREAM_UNAVAILABLE"
    assert inbox["data"]["pendingApprovals"]["failedSources"] == [
        {"source": SOURCE, "code": "UPSTREAM_UNAVAILABLE"}
    ]
    assert any(
        e["node"]["execution"]["source"]["name"] == "rv"
        for e in inbox["data"]["pendingApprovals"]["edges"]
    )
