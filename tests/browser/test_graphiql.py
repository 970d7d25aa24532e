"""GraphiQL in a real headless Chromium, offline: only 127.0.0.1 answers, everything else is blocked.

graphiql.mjs (puppeteer-core on the system's chromium) drives the page as a person would and
reports what it saw; these tests judge it. ``scripts/install`` installs the node packages and, as
root, chromium. A screenshot of each test's last state stays in tests/browser/artifacts/.
"""

from __future__ import annotations

import asyncio
import json
import os
import shutil
from collections.abc import AsyncGenerator  # noqa: TC003 strawberry reads the peer's annotations
from pathlib import Path
from typing import TYPE_CHECKING, Any

import httpx
import pytest
import strawberry
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.routing import Route, WebSocketRoute
from strawberry.asgi import GraphQL
from strawberry.exceptions import ConnectionRejectionError

from gateway.http.app import create_app
from gateway.http.graphiql import GraphiQLMiddleware
from tests.serving import demo_config_with, graphql, serving

if TYPE_CHECKING:
    from collections.abc import AsyncIterator

pytestmark = pytest.mark.e2e

HERE = Path(__file__).resolve().parent
ARTIFACTS = HERE / "artifacts"
RUN_TIMEOUT_S = 90
KEY = "browser-test-key-0123456789"
KEY_ENV = "BROWSER_TEST_KEY"
API_KEY_AUTH = {
    "mode": "api_key",
    "clients": [{"name": "ide", "key_env": KEY_ENV, "roles": ["viewer"]}],
}
QUERY = "{ sources { name kind } }"


def chromium() -> str:
    """The browser to drive: $CHROMIUM, else Debian's chromium; skip (loudly) when there is none."""
    found = (
        os.environ.get("CHROMIUM") or shutil.which("chromium") or shutil.which("chromium-browser")
    )
    if found is None:
        pytest.skip(
            "no chromium: GraphiQL's browser tests need it (scripts/install installs it as root; "
            "else `apt-get install chromium` or set CHROMIUM)"
        )
    if shutil.which("node") is None:
        pytest.skip("node is not installed; GraphiQL's browser tests drive chromium from node")
    if not (HERE / "node_modules" / "puppeteer-core").is_dir():
        pytest.skip("tests/browser/node_modules is missing; scripts/install runs npm ci there")
    return found


async def drive(url: str, name: str, steps: list[dict[str, Any]]) -> dict[str, Any]:
    """Run graphiql.mjs on ``url`` with ``steps``; what it saw, with its screenshot's path."""
    ARTIFACTS.mkdir(exist_ok=True)
    screenshot = ARTIFACTS / f"{name}.png"
    screenshot.unlink(missing_ok=True)
    job = {"chromium": chromium(), "url": url, "screenshot": str(screenshot), "steps": steps}
    process = await asyncio.create_subprocess_exec(
        "node",
        str(HERE / "graphiql.mjs"),
        json.dumps(job),
        cwd=HERE,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    try:
        stdout, stderr = await asyncio.wait_for(process.communicate(), RUN_TIMEOUT_S)
    except TimeoutError:
        process.kill()
        await process.wait()
        raise
    assert process.returncode == 0, stderr.decode()
    seen: dict[str, Any] = json.loads(stdout)
    seen["screenshot"] = str(screenshot)
    return seen


def assert_clean(seen: dict[str, Any]) -> None:
    """Every step ran, nothing left 127.0.0.1, the policy refused nothing, the page threw nothing."""
    where = f"(screenshot: {seen['screenshot']})"
    assert seen["error"] is None, f"{seen['error']}; result pane: {seen.get('response')} {where}"
    assert seen["blocked"] == [], f"requests beyond 127.0.0.1: {seen['blocked']} {where}"
    assert seen["cspViolations"] == [], f"{seen['cspViolations']} {where}"
    assert seen["pageErrors"] == [], f"{seen['pageErrors']} {where}"


def step(seen: dict[str, Any], name: str) -> dict[str, Any]:
    found: dict[str, Any] = next(s for s in seen["steps"] if s["do"] == name)
    return found


@pytest.fixture
async def open_gateway(sandbox_url: str) -> AsyncIterator[str]:
    async with serving(create_app(demo_config_with(sandbox_url))) as url:
        yield url


@pytest.fixture
async def keyed_gateway(sandbox_url: str) -> AsyncIterator[str]:
    config = demo_config_with(sandbox_url, env={KEY_ENV: KEY}, auth=API_KEY_AUTH)
    async with serving(create_app(config)) as url:
        yield url


async def test_the_page_renders_runs_a_typed_query_and_documents_the_schema(
    open_gateway: str,
) -> None:
    seen = await drive(
        open_gateway + "/",
        "open-query-docs",
        [
            {"do": "render"},
            {"do": "keyBar"},
            {"do": "query", "query": QUERY, "expect": '"data"'},
            {"do": "docs"},
            {
                "do": "click",
                "selector": 'button[aria-label="Show GraphiQL Explorer"]',
                "waitFor": ".graphiql-explorer-root",
            },
        ],
    )
    assert_clean(seen)
    assert seen["finalUrl"] == open_gateway + "/graphql", "/ leads to the IDE"
    assert step(seen, "keyBar")["visible"] is False, "no key is asked for when auth.mode = none"
    ran = step(seen, "query")
    assert ran["typed"] == QUERY
    sources = json.loads(ran["result"])["data"]["sources"]
    assert {s["name"] for s in sources} == {"rv", "velt", "zaia", "tl"}
    assert "execution(id: ID!): Execution" in step(seen, "docs")["text"]
    assert "executionFeed" in step(seen, "click")["text"]
    # Not even the browser's own /favicon.ico request fails (it was the one console error).
    assert seen["consoleErrors"] == []
    async with httpx.AsyncClient(base_url=open_gateway, timeout=30) as client:
        icon = await client.get("/favicon.ico")
    assert icon.status_code == 200
    assert icon.headers["content-type"] == "image/vnd.microsoft.icon"
    assert icon.content.startswith(b"\x00\x00\x01\x00")  # an ICO file's header


async def test_with_api_keys_the_page_loads_and_the_typed_key_opens_the_api(
    keyed_gateway: str,
) -> None:
    seen = await drive(
        keyed_gateway + "/graphql",
        "api-key",
        [
            {"do": "render"},
            {"do": "keyBar"},
            {"do": "query", "query": QUERY, "expect": "401"},
            {"do": "key", "key": KEY},
            {"do": "query", "query": QUERY, "expect": '"data"'},
            {"do": "docs"},
            {"do": "headers", "text": '{"authorization": "Bearer not-the-key"}'},
            {"do": "query", "query": QUERY, "expect": "401"},
            {"do": "storage"},
            {"do": "keep"},
            {"do": "storage"},
            {"do": "headers", "text": "{}"},
            {"do": "key", "key": "not-the-key"},
        ],
    )
    assert_clean(seen)
    assert seen["status"] == 200
    assert step(seen, "keyBar")["visible"] is True
    refused, answered, overridden = (s for s in seen["steps"] if s["do"] == "query")
    refusal = json.loads(refused["result"])
    assert "data" not in refusal
    assert refusal["errors"][0]["message"].startswith(
        "401 Unauthorized: this gateway needs an API key"
    )
    assert "UNAUTHENTICATED" in {e["extensions"]["code"] for e in refusal["errors"]}
    accepted, refused_key = (s for s in seen["steps"] if s["do"] == "key")
    assert accepted["status"] == "the gateway accepted this key"
    assert json.loads(answered["result"])["data"]["sources"]
    # The schema was fetched again with the key: the docs explorer knows the types.
    assert "Execution" in step(seen, "docs")["text"]
    # A header typed into the Headers tab wins over the key field.
    # Nothing outlives the tab, and the key is kept only when asked.
    unkept, kept = (s for s in seen["steps"] if s["do"] == "storage")
    assert unkept["local"] == kept["local"] == {}
    assert KEY not in json.dumps(unkept["session"])
    assert "not-the-key" not in json.dumps(unkept["session"]), "the Headers tab is not stored"
    assert unkept["session"], "GraphiQL keeps its tabs in sessionStorage"
    assert kept["session"]["gateway-graphiql-api-key"] == KEY
    assert step(seen, "keep")["status"] == "the gateway accepted this key (kept for this tab)"
    wrong = json.loads(overridden["result"])
    assert "data" not in wrong
    assert wrong["errors"][0]["message"].startswith(
        "401 Unauthorized: the gateway does not know this API key"
    )
    # A wrong key in the key field is said to be refused, not that requests carry it.
    assert refused_key["status"].startswith("the gateway refused this key (401)")


async def subscription_document(url: str, headers: dict[str, str]) -> str | None:
    """A subscription on the schema's first argument-free Subscription field, or None if none."""

    async with httpx.AsyncClient(base_url=url, timeout=30) as client:
        body = await graphql(
            client,
            "{ __schema { subscriptionType { fields { name args { type { kind } } "
            "type { kind ofType { kind ofType { kind } } } } } } }",
            headers=headers,
        )
    subscription = body["data"]["__schema"]["subscriptionType"]
    for field in (subscription or {}).get("fields", []):
        if any(arg["type"]["kind"] == "NON_NULL" for arg in field["args"]):
            continue
        kind = field["type"]
        while kind["kind"] in ("NON_NULL", "LIST"):
            kind = kind["ofType"]
        selection = "" if kind["kind"] in ("SCALAR", "ENUM") else " { __typename }"
        return f"subscription {{ {field['name']}{selection} }}"
    return None


async def test_a_subscription_goes_over_graphql_ws_with_the_key_in_connection_init(
    keyed_gateway: str,
) -> None:
    document = await subscription_document(keyed_gateway, {"Authorization": f"Bearer {KEY}"})
    if document is None:
        pytest.skip(
            "the schema has no subscription that takes no required arguments, "
            "so there is nothing for GraphiQL to subscribe to"
        )
    seen = await drive(
        keyed_gateway + "/graphql",
        "subscription",
        [
            {"do": "render"},
            {"do": "key", "key": KEY},
            {"do": "query", "query": document},
            {"do": "wsMessage", "type": "connection_ack"},
        ],
    )
    assert_clean(seen)
    init = next(m for m in seen["wsSent"] if m.get("type") == "connection_init")
    assert init["payload"] == {"Authorization": f"Bearer {KEY}"}
    assert any(m.get("type") == "subscribe" for m in seen["wsSent"])


@strawberry.type
class _PeerQuery:
    ready: bool = True


@strawberry.type
class _PeerSubscription:
    @strawberry.subscription
    async def ticks(self) -> AsyncGenerator[int, None]:
        for tick in range(3):
            yield tick


class _KeyedPeer(GraphQL[Any, None]):
    """strawberry's own graphql-transport-ws server, refusing a connection without the key."""

    async def on_ws_connect(self, context: Any) -> dict[str, object] | None:
        if context["connection_params"] != {"Authorization": f"Bearer {KEY}"}:
            raise ConnectionRejectionError({"reason": "no key in connection_init"})
        return None


@pytest.fixture
async def subscription_peer() -> AsyncIterator[str]:
    """The IDE in front of a real graphql-transport-ws server that wants the key on connect."""
    peer = _KeyedPeer(strawberry.Schema(query=_PeerQuery, subscription=_PeerSubscription))
    app = Starlette(
        routes=[Route("/graphql", peer, methods=["POST"]), WebSocketRoute("/graphql", peer)],
        middleware=[Middleware(GraphiQLMiddleware, api_key=True)],
    )
    async with serving(app, lifespan="off") as url:
        yield url


async def test_the_ide_streams_a_subscription_with_the_key_in_connection_init(
    subscription_peer: str,
) -> None:
    """The page's fetcher against a peer that speaks the protocol, until the gateway does too."""
    seen = await drive(
        subscription_peer + "/graphql",
        "subscription-peer",
        [
            {"do": "render"},
            {"do": "key", "key": KEY},
            {"do": "query", "query": "subscription { ticks }", "expect": '"ticks": 2'},
        ],
    )
    assert_clean(seen)
    sent = [m["type"] for m in seen["wsSent"]]
    assert sent[:2] == ["connection_init", "subscribe"]
    assert seen["wsSent"][0]["payload"] == {"Authorization": f"Bearer {KEY}"}
    received = [m["type"] for m in seen["wsReceived"]]
    assert received == ["connection_ack", "next", "next", "next", "complete"]


async def test_a_subscription_in_the_page_shows_the_execution_move_after_an_approve(
    sandbox_url: str,
) -> None:
    """The demo's promise: a subscription opened in GraphiQL shows an execution go from
    WAITING_FOR_APPROVAL to COMPLETED after it is approved elsewhere (a second tab)."""

    from sandbox import rotavision

    approver = {
        "name": "ops",
        "key_env": "OPS_KEY",
        "roles": ["viewer", "approver"],
        "reviewer_id": "ops@example.com",  # a declared reviewer: only they may decide
    }
    auth = {"mode": "api_key", "clients": [API_KEY_AUTH["clients"][0], approver]}
    env = {KEY_ENV: KEY, "OPS_KEY": "ops-key-0123456789abcdef"}
    execution = f"rv:{rotavision.DEMO_WAITING_ID}"
    async with serving(create_app(demo_config_with(sandbox_url, env=env, auth=auth))) as url:
        ops = {"Authorization": "Bearer ops-key-0123456789abcdef"}
        async with httpx.AsyncClient(base_url=url, timeout=30) as client:
            read = await graphql(
                client,
                f'{{ execution(id: "{execution}") {{ approvals {{ id status }} }} }}',
                headers=ops,
            )
        approval = next(
            a["id"] for a in read["data"]["execution"]["approvals"] if a["status"] == "PENDING"
        )
        seen = await drive(
            url + "/graphql",
            "subscription-moves",
            [
                {"do": "render"},
                {"do": "key", "key": KEY},
                {
                    "do": "query",
                    "query": f'subscription {{ executionChanged(id: "{execution}") {{ status }} }}',
                },
                {"do": "shows", "expect": "WAITING_FOR_APPROVAL"},
                {
                    "do": "post",
                    "headers": ops,
                    "query": "mutation($a: ID!) { approve(input: {approvalId: $a}) { __typename } }",
                    "variables": {"a": approval},
                },
                {"do": "shows", "expect": "COMPLETED"},
            ],
        )
    assert_clean(seen)
    assert step(seen, "post")["body"]["data"]["approve"]["__typename"] == "DecisionSuccess"
    assert "COMPLETED" in seen["steps"][-1]["result"]
    assert any(m.get("type") == "connection_init" for m in seen["wsSent"])
