"""Two scoped clients on one gateway: each reads only its own, over every transport.

``team-a`` may read Rotavision's ``wf_abc123`` workflow and all of Velt; ``team-b`` reads the
nesting source and Truthlocks. Out of scope reads as absent: an execution of another partition is
``NOT_FOUND`` exactly as an id that does not exist, a source out of scope is unknown exactly as a
source that is not configured. Cursors and cached answers made for one do not serve the other.
"""

from __future__ import annotations

import asyncio
import dataclasses
import json
from contextlib import asynccontextmanager
from typing import TYPE_CHECKING, Any

import httpx
import pytest

from gateway.http.app import create_app
from sandbox import rotavision
from tests.live.support import TransportWS, running_id
from tests.serving import demo_config_with, serving

if TYPE_CHECKING:
    from collections.abc import AsyncIterator

    from sandbox import Sandbox

pytestmark = pytest.mark.e2e

KEYS = {"team-a": "a" * 32, "team-b": "b" * 32, "ops": "o" * 32}
AUTH = {
    "mode": "api_key",
    "clients": [
        {
            "name": "team-a",
            "key_env": "TEAM_A_KEY",
            "roles": ["viewer", "approver"],
            "scope": {"rv": ["wf_abc123"], "velt": "*"},
        },
        {
            "name": "team-b",
            "key_env": "TEAM_B_KEY",
            "roles": ["viewer", "approver"],
            "scope": {"zaia": "*", "tl": "*"},
        },
        {"name": "ops", "key_env": "OPS_KEY", "roles": ["viewer", "approver"]},
    ],
}
ENV = {"TEAM_A_KEY": KEYS["team-a"], "TEAM_B_KEY": KEYS["team-b"], "OPS_KEY": KEYS["ops"]}
IN_A = f"rv:{rotavision.DOC_EXAMPLE_ID}"  # workflow wf_abc123
OTHER_WORKFLOW = f"rv:{rotavision.DEMO_WAITING_ID}"  # wf_support_triage: not team-a's
TRANSPORTS = ("post", "get", "sse", "websocket")
"""The transports that carry queries (multipart carries subscriptions only)."""
MULTIPART = 'multipart/mixed;subscriptionSpec="1.0", application/json'


@asynccontextmanager
async def gateway(sandbox_url: str) -> AsyncIterator[str]:
    config = demo_config_with(sandbox_url, ENV, auth=AUTH)
    async with serving(create_app(config)) as url:
        yield url


async def ask(
    url: str, transport: str, client: str, query: str, variables: dict[str, Any] | None = None
) -> dict[str, Any]:
    """One operation's result (``data`` and ``errors``) over ``transport``."""
    key = KEYS[client]
    body = {"query": query, "variables": variables or {}}
    if transport == "websocket":
        ws_url = url.replace("http://", "ws://") + "/graphql"
        async with TransportWS.open(ws_url, {"Authorization": f"Bearer {key}"}) as socket:
            await socket.subscribe("1", query, variables)
            message = await socket.receive()
            assert message["type"] == "next", message
            payload: dict[str, Any] = message["payload"]
            return payload
    headers = {"authorization": f"Bearer {key}"}
    async with httpx.AsyncClient(base_url=url, timeout=30) as http:
        if transport == "get":
            params = {"query": query, "variables": json.dumps(variables or {})}
            response = await http.get("/graphql", params=params, headers=headers)
            result: dict[str, Any] = response.json()
            return result
        if transport == "post":
            result = (await http.post("/graphql", json=body, headers=headers)).json()
            return result
        accept = "text/event-stream" if transport == "sse" else MULTIPART
        async with http.stream(
            "POST", "/graphql", json=body, headers={**headers, "accept": accept}
        ) as response:
            async for line in response.aiter_lines():
                if transport == "sse" and line.startswith("data: {"):
                    parsed: dict[str, Any] = json.loads(line[len("data: ") :])
                    return parsed
                if transport == "multipart" and line.startswith("{"):
                    part = json.loads(line)
                    if "payload" in part:
                        payload = part["payload"]
                        return payload
    raise AssertionError(f"no answer over {transport}")


def codes(result: dict[str, Any]) -> list[str]:
    return [e["extensions"]["code"] for e in result.get("errors", [])]


READ = "query($id: ID!) { execution(id: $id) { id } }"


@pytest.mark.parametrize("transport", TRANSPORTS)
async def test_each_client_reads_only_its_own(
    sandbox_url: str, sandbox: Sandbox, transport: str
) -> None:
    async with gateway(sandbox_url) as url:
        mine = await ask(url, transport, "team-a", READ, {"id": IN_A})
        assert mine["data"]["execution"] == {"id": IN_A}
        other_partition = await ask(url, transport, "team-a", READ, {"id": OTHER_WORKFLOW})
        missing = await ask(url, transport, "team-a", READ, {"id": "rv:exec_does_not_exist"})
        assert other_partition["data"] == missing["data"] == {"execution": None}
        assert codes(other_partition) == codes(missing) == ["NOT_FOUND"]
        # The same words, bar the id: nothing says the other one exists.
        (hidden,) = other_partition["errors"]
        (absent,) = missing["errors"]
        assert hidden["extensions"] == absent["extensions"]
        assert hidden["message"].replace(OTHER_WORKFLOW.split(":")[1], "X") == absent[
            "message"
        ].replace("exec_does_not_exist", "X")
        other_source = await ask(url, transport, "team-b", READ, {"id": IN_A})
        unknown = await ask(url, transport, "team-b", READ, {"id": "nowhere:exec_1"})
        assert codes(other_source) == codes(unknown) == ["BAD_USER_INPUT"]
        assert "rv" not in other_source["errors"][0]["message"].split("configured:")[1]


async def test_lists_show_only_what_is_in_scope(sandbox_url: str, sandbox: Sandbox) -> None:
    feed = "{ executionFeed(first: 100) { edges { node { id workflow { id } } } } }"
    pending = "{ pendingApprovals(first: 100) { edges { node { execution { id } } } } }"
    names = "{ sources { name } }"
    async with gateway(sandbox_url) as url:
        for client, allowed in (("team-a", {"rv", "velt"}), ("team-b", {"zaia", "tl"})):
            listed = await ask(url, "post", client, names)
            assert {s["name"] for s in listed["data"]["sources"]} == allowed
            items = (await ask(url, "post", client, feed))["data"]["executionFeed"]["edges"]
            assert items
            assert {e["node"]["id"].split(":")[0] for e in items} <= allowed
            if client == "team-a":
                workflows = {
                    e["node"]["workflow"]["id"] for e in items if e["node"]["id"][:3] == "rv:"
                }
                assert workflows == {"wf_abc123"}
            waiting = (await ask(url, "post", client, pending))["data"]["pendingApprovals"]
            sources = {e["node"]["execution"]["id"].split(":")[0] for e in waiting["edges"]}
            assert sources <= allowed
        everything = (await ask(url, "post", "ops", feed))["data"]["executionFeed"]["edges"]
        seen = {e["node"]["id"].split(":")[0] for e in everything}
        assert not seen <= {"rv", "velt"}  # a client without a scope sees across both teams
        assert not seen <= {"zaia", "tl"}


async def test_a_cursor_from_one_scope_is_refused_in_another(
    sandbox_url: str, sandbox: Sandbox
) -> None:
    feed = "query($after: String) { executionFeed(first: 2, after: $after) { pageInfo { endCursor } } }"
    async with gateway(sandbox_url) as url:
        page = await ask(url, "post", "team-a", feed)
        cursor = page["data"]["executionFeed"]["pageInfo"]["endCursor"]
        assert cursor
        same = await ask(url, "post", "team-a", feed, {"after": cursor})
        assert "errors" not in same
        other = await ask(url, "post", "team-b", feed, {"after": cursor})
        assert codes(other) == ["BAD_USER_INPUT"]


async def test_the_response_cache_never_crosses_scopes(sandbox_url: str, sandbox: Sandbox) -> None:
    """The same document asked by both, in both orders: each gets its own answer."""
    query = "{ sources { name } }"
    async with gateway(sandbox_url) as url:
        for first, second in (("team-a", "team-b"), ("team-b", "team-a")):
            one = await ask(url, "get", first, query)
            two = await ask(url, "get", second, query)
            assert one != two


async def test_a_decision_out_of_scope_is_not_found(sandbox_url: str, sandbox: Sandbox) -> None:
    approvals = "query($id: ID!) { execution(id: $id) { approvals { id status } } }"
    decide = (
        "mutation($id: ID!) { approve(input: {approvalId: $id}) { __typename "
        "... on DecisionError { code } } }"
    )
    async with gateway(sandbox_url) as url:
        seen = await ask(url, "post", "ops", approvals, {"id": OTHER_WORKFLOW})
        approval_id = seen["data"]["execution"]["approvals"][0]["id"]
        refused = await ask(url, "post", "team-a", decide, {"id": approval_id})
        assert refused["data"]["approve"]["__typename"] == "ApprovalNotFound"
        assert (
            sandbox.stats.calls.get("POST /v1/orchestrate/executions/{execution_id}/approve", 0)
            == 0
        )


async def test_subscriptions_show_only_what_is_in_scope(sandbox_url: str, sandbox: Sandbox) -> None:
    """A change each team may see and one it may not, through the same hub: each subscriber gets
    only its own, and a subscription to another partition's execution is NOT_FOUND."""
    config = demo_config_with(sandbox_url, ENV, auth=AUTH)
    app = create_app(config)
    async with serving(app) as url:
        hub = app.state.live
        ws_url = url.replace("http://", "ws://") + "/graphql"
        changes = "subscription { executionChanges { id } }"
        async with (
            TransportWS.open(ws_url, {"Authorization": f"Bearer {KEYS['team-a']}"}) as a,
            TransportWS.open(ws_url, {"Authorization": f"Bearer {KEYS['team-b']}"}) as b,
        ):
            await a.subscribe("1", changes)
            await b.subscribe("1", changes)
            await until_subscribed(hub, 2)
            for source, native in (
                ("rv", rotavision.DEMO_WAITING_ID),  # another workflow: nobody's
                ("zaia", running_id(sandbox, "nesting")),  # team-b's
                ("rv", rotavision.DOC_EXAMPLE_ID),  # team-a's
            ):
                current = await hub.read(source, native)
                await hub.observe(source, dataclasses.replace(current, raw={"changed": True}))
            got_a = await a.receive()
            got_b = await b.receive()
        assert got_a["payload"]["data"]["executionChanges"]["id"] == IN_A
        assert got_b["payload"]["data"]["executionChanges"]["id"].startswith("zaia:")
        watched = "subscription($id: ID!) { executionChanged(id: $id) { id } }"
        for transport in ("websocket", "sse", "multipart"):
            hidden = await ask(url, transport, "team-a", watched, {"id": OTHER_WORKFLOW})
            assert codes(hidden) == ["NOT_FOUND"], transport
        elsewhere = await ask(url, "websocket", "team-b", watched, {"id": IN_A})
        assert codes(elsewhere) == ["BAD_USER_INPUT"]  # a source out of scope is unknown


async def until_subscribed(hub: Any, count: int) -> None:
    for _ in range(500):
        if hub.bus.subscribers("executions") >= count:
            return
        await asyncio.sleep(0.01)
    raise AssertionError("the subscriptions never started")
