"""Every transport and every policy of the gate, against a real ``gateway serve`` process.

One process is configured so that each policy can refuse: API keys (a client per cell, so each
cell has its own rate-limit bucket), trusted documents (every document below is allow-listed
but the one the ``trusted`` cell sends), tight ``[limits]`` and a rate limit of two operations.
Each cell sends its policy's document over its transport and expects the same
``extensions.code`` (and, over HTTP, the same status). A check the gate gains, or a transport
the view gains, without a column or a row here fails ``test_the_matrix_covers_every_check_and_transport``.
"""

from __future__ import annotations

import asyncio
import json
import os
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import httpx
import pytest
from strawberry.subscriptions import (
    GRAPHQL_SSE_PROTOCOL,
    GRAPHQL_TRANSPORT_WS_PROTOCOL,
    MULTIPART_SUBSCRIPTION_PROTOCOL,
)
from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed

from gateway.core.persisted import sha256_hex
from gateway.demo import demo_config, demo_raw_config
from gateway.gate import CHECKS
from gateway.http.app import create_app
from tests.processes import free_port, gateway_process, sources_toml, toml

if TYPE_CHECKING:
    from collections.abc import Iterator

pytestmark = pytest.mark.e2e


@dataclass(frozen=True)
class Policy:
    name: str
    check: str
    """The gate's check (``gateway.gate.CHECKS``) that refuses it."""
    query: str
    code: str
    status: int
    """What HTTP answers on POST and GET (SSE and multipart: the same, 400 for a request error)."""
    client: str = "viewer"
    """``viewer``: a client per cell with both roles; ``approver``: only the approver role."""
    limit: str | None = None


CHEAP = "{ __typename }"
DEEP = '{ executions(ids: ["rv:x"]) { children { children { children { children { id } } } } } }'
IDS = ", ".join(f'"rv:e{n}"' for n in range(21))
MANY_IDS = f"{{ executions(ids: [{IDS}]) {{ id }} }}"
INTROSPECTIVE = "{ " + ' __type(name: "Query") { name }' * 6 + " }"
POLICIES = (
    Policy("role", "role", CHEAP, "FORBIDDEN", 403, client="approver"),
    Policy("trusted", "trusted", "{ sources { name } }", "PERSISTED_QUERY_NOT_TRUSTED", 200),
    Policy(
        "size",
        "size",
        "{ __typename }\n#" + "x" * 1_600,
        "BAD_USER_INPUT",
        200,
        limit="max_document_bytes",
    ),
    Policy("tokens", "tokens", "{ " + "a { " * 160, "BAD_USER_INPUT", 200, limit="max_tokens"),
    Policy("depth", "shape", DEEP, "BAD_USER_INPUT", 200, limit="max_depth"),
    Policy(
        "aliases",
        "shape",
        "{ a: __typename b: __typename c: __typename d: __typename }",
        "BAD_USER_INPUT",
        200,
        limit="max_aliases",
    ),
    Policy("cost", "cost", INTROSPECTIVE, "BAD_USER_INPUT", 200, limit="max_cost"),
    Policy("upstream_calls", "cost", MANY_IDS, "BAD_USER_INPUT", 200, limit="max_upstream_calls"),
    Policy("rate_limit", "rate_limit", CHEAP, "RATE_LIMITED", 429),
)
SUBSCRIPTION = 'subscription { executionChanged(id: "rv:x") { id } }'
NOT_POLICIES = {
    "caller": "authentication is the transport's framing (401 before GraphQL, or a WebSocket "
    "closed 4403 at connection_init); test_an_unknown_key_is_refused_on_every_transport",
    "document": "a request whose parts are not strings and objects: tests/e2e/test_fuzz.py",
    "operation": "an operationName that names nothing: tests/e2e/test_fuzz.py",
}
TRANSPORTS = ("post", "get", "sse", "multipart", "websocket")
PROTOCOL_TRANSPORTS = {
    GRAPHQL_TRANSPORT_WS_PROTOCOL: "websocket",
    GRAPHQL_SSE_PROTOCOL: "sse",
    MULTIPART_SUBSCRIPTION_PROTOCOL: "multipart",
}
BURST = 2
RATE = {"requests_per_s": 0.001, "burst": BURST}
"""Two operations per client, then nothing for 1,000 s."""


def client_name(transport: str, policy: Policy) -> str:
    return f"{transport}-{policy.name}"


@pytest.fixture(scope="module")
def gated_gateway(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, dict[str, str]]]:
    """A real gateway process with every policy tight; yields its URL and each client's key."""
    folder = tmp_path_factory.mktemp("gate")
    port = free_port()
    raw, env = demo_raw_config("http://127.0.0.1:9", port=port)  # no upstream is reached
    listed = [p.query for p in POLICIES if p.check != "trusted"] + [SUBSCRIPTION]
    trusted = {sha256_hex(text): text for text in listed}
    manifest = folder / "trusted.json"
    manifest.write_text(json.dumps(trusted), encoding="utf-8")
    keys: dict[str, str] = {}
    lines = [
        "[server]",
        'host = "127.0.0.1"',
        f"port = {port}",
        "",
        "[auth]",
        'mode = "api_key"',
        "",
        "[cache]",
        'persisted_queries = "trusted"',
        f"trusted_documents = {toml(str(manifest))}",
        "answers_max_entries = 0",
        "",
        "[limits]",
        "max_document_bytes = 1500",
        "max_tokens = 300",
        "max_depth = 4",
        "max_aliases = 3",
        "max_introspection_fields = 10",
        "max_cost = 500",
        "max_upstream_calls = 20",
        "",
        "[rate_limit]",
        *(f"{k} = {toml(v)}" for k, v in RATE.items()),
    ]
    for transport in (*TRANSPORTS, "unknown"):
        for policy in POLICIES:
            name = client_name(transport, policy)
            keys[name] = f"key-{name}-" + "k" * 24
            env_name = f"KEY_{name.upper().replace('-', '_')}"
            env[env_name] = keys[name]
            roles = ["approver"] if policy.client == "approver" else ["viewer", "approver"]
            lines += [
                "",
                "[[auth.clients]]",
                f"name = {toml(name)}",
                f"key_env = {toml(env_name)}",
                f"roles = {toml(roles)}",
            ]
    lines += sources_toml(raw["sources"])
    config = folder / "gate.toml"
    config.write_text("\n".join(lines) + "\n", encoding="utf-8")
    with gateway_process(config, port, {**os.environ, **env}, folder / "gate.log"):
        yield f"http://127.0.0.1:{port}", keys


async def over_http(
    url: str, transport: str, query: str, key: str
) -> tuple[int, dict[str, Any], httpx.Headers]:
    """The refusal as HTTP answers it: status, the first error, the headers."""
    headers = {"authorization": f"Bearer {key}"}
    async with httpx.AsyncClient(base_url=url, timeout=30) as client:
        if transport == "get":
            response = await client.get("/graphql", params={"query": query}, headers=headers)
        else:
            accept = {
                "post": "application/json",
                "sse": "text/event-stream",
                "multipart": 'multipart/mixed;subscriptionSpec="1.0"',  # a stream only
            }[transport]
            response = await client.post(
                "/graphql", json={"query": query}, headers={**headers, "accept": accept}
            )
    assert response.headers["content-type"].startswith("application/json"), response.text
    errors = response.json()["errors"]
    return response.status_code, errors[0], response.headers


async def over_websocket(url: str, query: str, key: str) -> dict[str, Any]:
    """The refusal as graphql-transport-ws answers it: the operation's ``error`` message."""
    ws_url = url.replace("http://", "ws://") + "/graphql"
    async with connect(ws_url, subprotocols=["graphql-transport-ws"]) as socket:  # type: ignore[list-item]
        await socket.send(
            json.dumps({"type": "connection_init", "payload": {"Authorization": f"Bearer {key}"}})
        )
        assert json.loads(await socket.recv())["type"] == "connection_ack"
        await socket.send(json.dumps({"id": "1", "type": "subscribe", "payload": {"query": query}}))
        message = json.loads(await asyncio.wait_for(socket.recv(), 10))
        assert message["type"] == "error", message
        assert message["id"] == "1"
        errors: list[dict[str, Any]] = message["payload"]
        return errors[0]


async def refusal(
    url: str, transport: str, query: str, key: str
) -> tuple[int | None, dict[str, Any]]:
    if transport == "websocket":
        return None, await over_websocket(url, query, key)
    status, error, headers = await over_http(url, transport, query, key)
    if error["extensions"]["code"] == "RATE_LIMITED":
        assert int(headers["retry-after"]) == error["extensions"]["retryAfter"]
    return status, error


async def spend_bucket(url: str, transport: str, key: str) -> None:
    """Two admitted operations: the client's whole burst."""
    for _ in range(BURST):
        if transport == "websocket":
            ws_url = url.replace("http://", "ws://") + "/graphql"
            async with connect(ws_url, subprotocols=["graphql-transport-ws"]) as socket:  # type: ignore[list-item]
                await socket.send(
                    json.dumps(
                        {"type": "connection_init", "payload": {"Authorization": f"Bearer {key}"}}
                    )
                )
                assert json.loads(await socket.recv())["type"] == "connection_ack"
                await socket.send(
                    json.dumps({"id": "1", "type": "subscribe", "payload": {"query": CHEAP}})
                )
                assert json.loads(await socket.recv())["type"] == "next"
        else:
            async with httpx.AsyncClient(base_url=url, timeout=30) as client:
                response = await client.post(
                    "/graphql", json={"query": CHEAP}, headers={"authorization": f"Bearer {key}"}
                )
                assert response.json() == {"data": {"__typename": "Query"}}


@pytest.mark.parametrize("policy", POLICIES, ids=[p.name for p in POLICIES])
@pytest.mark.parametrize("transport", TRANSPORTS)
async def test_every_door_refuses_alike(
    gated_gateway: tuple[str, dict[str, str]], transport: str, policy: Policy
) -> None:
    url, keys = gated_gateway
    key = keys[client_name(transport, policy)]
    if policy.check == "rate_limit":
        await spend_bucket(url, transport, key)
    status, error = await refusal(url, transport, policy.query, key)
    assert error["extensions"]["code"] == policy.code, error
    if policy.limit is not None:
        assert error["extensions"]["limit"] == policy.limit, error
    if transport in ("post", "get"):
        assert status == policy.status
    elif transport in ("sse", "multipart"):
        assert status == (policy.status if policy.status != 200 else 400)


@pytest.mark.parametrize("transport", ["sse", "multipart", "websocket"])
async def test_a_subscription_needs_the_viewer_role_too(
    gated_gateway: tuple[str, dict[str, str]], transport: str
) -> None:
    """The reported door: an approver-only client subscribed over graphql-transport-ws. (Plain
    HTTP answers no subscription: a 400 names the ways to subscribe.)"""
    url, keys = gated_gateway
    key = keys[client_name("unknown", POLICIES[0])]  # approver only
    _, error = await refusal(url, transport, SUBSCRIPTION, key)
    assert error["extensions"]["code"] == "FORBIDDEN"


async def test_an_unknown_key_is_refused_on_every_transport(
    gated_gateway: tuple[str, dict[str, str]],
) -> None:
    url, _ = gated_gateway
    for transport in ("post", "get", "sse", "multipart"):
        status, error, _ = await over_http(url, transport, CHEAP, "not-a-key")
        assert (status, error["extensions"]["code"]) == (401, "UNAUTHENTICATED"), transport
    ws_url = url.replace("http://", "ws://") + "/graphql"
    async with connect(ws_url, subprotocols=["graphql-transport-ws"]) as socket:  # type: ignore[list-item]
        await socket.send(
            json.dumps({"type": "connection_init", "payload": {"Authorization": "Bearer nope"}})
        )
        with pytest.raises(ConnectionClosed) as closed:
            await socket.recv()
    assert closed.value.rcvd is not None
    assert closed.value.rcvd.code == 4403


def test_the_matrix_covers_every_check_and_transport() -> None:
    """A new check needs a column (or a reason it is not a policy); a new protocol a row."""
    assert {p.check for p in POLICIES} | set(NOT_POLICIES) == set(CHECKS)
    view = create_app(demo_config("http://127.0.0.1:9")).state.graphql
    served = {PROTOCOL_TRANSPORTS[p] for p in view.protocols}
    assert served | {"post", "get"} == set(TRANSPORTS)
