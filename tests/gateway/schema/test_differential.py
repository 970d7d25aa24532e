"""The speed work changes no answer: a corpus of operations, speed on and off, identical results.

Two gateways (``[server] fast_paths`` true and false), each in front of its own sandbox seeded
alike, over real HTTP. Each request goes to both, in the same order (mutations change the
sandboxes alike), and the status, the headers and the body bytes must be equal (less what differs
by request: its id, the clock's ``max-age``). The corpus has the shapes the e2e tests use: every
kind, nulls and errors, aliases, fragments, variables, directives, paging, connections,
introspection, decisions and refusals. The request shapes around it are those the plain-POST path
(``speed.plain_post``) takes and those it must leave to strawberry: each ``Accept``, content type,
malformed and odd bodies, batches, persisted queries, refused operations, streams.
"""

from __future__ import annotations

import hashlib
import json
import re
from typing import TYPE_CHECKING, Any, NamedTuple

import httpx
import pytest

from gateway.http.app import create_app
from gateway.http.guards import GRAPHQL_RESPONSE_JSON
from sandbox import Sandbox, SandboxConfig, nesting, rotavision, truthlocks, velt
from tests.conftest import FAST_PATHS
from tests.serving import demo_config_with, graphql, serving

if TYPE_CHECKING:
    from collections.abc import AsyncIterator

    from starlette.applications import Starlette

    from gateway.config import GatewayConfig

pytestmark = pytest.mark.e2e

ALL = [
    f"tl:{truthlocks.DEMO_COMPLETED_ID}",
    f"velt:{velt.DEMO_WAITING_ID}",
    f"rv:{rotavision.DOC_EXAMPLE_ID}",
    f"rv:{rotavision.DEMO_WAITING_ID}",
    f"zaia:{nesting.DEMO_TREE_ID}",
    f"velt:{velt.DOC_EXAMPLE_ID}",
    f"tl:{truthlocks.DOC_EXAMPLE_ID}",
]
FULL = """
  id status upstreamStatus source { name kind health circuitState }
  startedAt completedAt durationMs
  cost { amounts { amount currency } credits }
  error { code message }
  steps { id kind status name startedAt completedAt execution { id } approval { id status } }
  approvals { id status reviewers { id mandatory } step { id kind } execution { id } }
  children { id status children { id parent { id } } }
  parent { id }
"""
CORPUS: list[tuple[str, dict[str, Any]]] = [
    (f"query ($ids: [ID!]!) {{ executions(ids: $ids) {{ {FULL} }} }}", {"ids": ALL}),
    (
        "query ($ids: [ID!]!) { executions(ids: $ids) { id status } }",
        {"ids": ["rv:missing", "nope", "velt:absent", ALL[0], "tl:", "zz:1"]},
    ),
    (f'{{ execution(id: "{ALL[1]}") {{ ...E }} }} fragment E on Execution {{ {FULL} }}', {}),
    ('{ execution(id: "rv:does-not-exist") { id } }', {}),
    (
        f'{{ a: execution(id: "{ALL[0]}") {{ x: id y: status s: steps {{ k: kind }} }}'
        f' b: execution(id: "{ALL[0]}") {{ id __typename }} }}',
        {},
    ),
    (
        # Aliased root fields resolved as one batch: misses, bad ids and other fields between.
        f'{{ a: execution(id: "{ALL[0]}") {{ id status steps {{ kind status }} }}'
        ' b: execution(id: "rv:missing") { id } sources { name }'
        ' c: execution(id: "nope") { id } d: execution(id: "zz:1") { id }'
        f' e: execution(id: "{ALL[3]}") {{ id startedAt approvals {{ id status }} }} }}',
        {},
    ),
    (
        "query ($x: ID!, $y: ID!) { a: execution(id: $x) { ...E } b: execution(id: $y) { ...E } }"
        " fragment E on Execution { id status steps { id kind name } }",
        {"x": ALL[4], "y": ALL[6]},
    ),
    (
        "query ($on: Boolean!, $id: ID!) { execution(id: $id) {"
        " id status @include(if: $on) steps @skip(if: $on) { kind } ... on Execution { durationMs }"
        " ... @include(if: $on) { startedAt } } }",
        {"on": True, "id": ALL[4]},
    ),
    (
        f'{{ node(id: "{ALL[2]}") {{ id __typename ... on Execution {{ status steps {{ id }} }} }} }}',
        {},
    ),
    ("{ sources { name kind capabilities stats { calls errors } } }", {}),
    (
        "{ executionFeed(first: 5) { totalCount skippedSources failedSources { source code }"
        " pageInfo { hasNextPage endCursor } edges { cursor node { id status startedAt } } } }",
        {},
    ),
    (
        "{ executionFeed(first: 3, filter: {statuses: [COMPLETED]}) {"
        " edges { node { id status steps { kind status } } } } }",
        {},
    ),
    ('{ executionFeed(first: 3, after: "garbage") { edges { node { id } } } }', {}),
    ("{ executionFeed(first: 0) { edges { node { id } } } }", {}),
    (
        "{ pendingApprovals(first: 4) { failedSources { source code }"
        " pageInfo { hasNextPage endCursor } edges { cursor node {"
        " id status reviewers { id mandatory } step { id kind status } execution { id status } } } } }",
        {},
    ),
    ('{ pendingApprovals(sources: ["nope"]) { edges { node { id } } } }', {}),
    ("{ __typename }", {}),
    (
        '{ __type(name: "Execution") { name kind fields { name type { name kind ofType { name } } } } }',
        {},
    ),
    ("{ __schema { queryType { name } types { name kind } directives { name } } }", {}),
    ("{ execution(id: 1) { id } }", {}),
    ("{ nothing }", {}),
    ("{ execution(id: ", {}),
    ("{ sources { " + "name " * 2_001 + "} }", {}),
    (
        "query ($ids: [ID!]!) { executions(ids: $ids) { id } }",
        {"ids": [f"x:{n}" for n in range(101)]},
    ),
]
DECIDE = """mutation ($input: DecisionInput!) { approve(input: $input) {
  __typename
  ... on DecisionSuccess { alreadyRecorded approval { id status } execution { id status } }
  ... on DecisionError { code message }
} }"""
OPS_KEY = "ops-differential-key"
BOT_KEY = "bot-differential-key"
"""The bot may decide (approver) but not read (no viewer role): its queries are refused, 403."""
ONE = "query One($id: ID!) { execution(id: $id) { id status startedAt steps { kind status } } }"
SEVERAL = "query A { __typename } query B { sources { name } }"
KEPT = "{ sources { name kind } }"
"""The document of the persisted-query requests."""
ACCEPTS = [
    None,
    "*/*",
    "application/json",
    GRAPHQL_RESPONSE_JSON,
    f"{GRAPHQL_RESPONSE_JSON}, application/json;q=0.9",
    f"application/json, {GRAPHQL_RESPONSE_JSON};q=0.5",
    "text/html,application/xhtml+xml,*/*;q=0.8",
    "application/xml",
]
"""Plain JSON answers of either media type (the fast path's), and two it leaves to strawberry."""


def body(**fields: Any) -> bytes:
    return json.dumps(fields).encode()


def persisted(version: int = 1) -> dict[str, Any]:
    digest = hashlib.sha256(KEPT.encode()).hexdigest()
    return {"persistedQuery": {"version": version, "sha256Hash": digest}}


BODIES = [
    body(query=ONE, variables={"id": ALL[2]}),
    body(query=ONE, variables={"id": "rv:does-not-exist"}),
    body(query=ONE),
    body(query="{ execution(id: "),
    body(query="{ nothing }"),
    body(query=SEVERAL),
    body(query=SEVERAL, operationName="B"),
    body(query=SEVERAL, operationName="C"),
    body(query="{ __typename }", operationName=5),
    body(query="{ __schema { queryType { name } } __typename }"),
    body(
        query="subscription ($id: ID!) { executionChanged(id: $id) { id } }",
        variables={"id": ALL[0]},
    ),
    body(variables={}),
    body(query=None),
    body(query=5),
    body(query="{ __typename }", variables=[1]),
    body(query="{ __typename }", extensions="x"),
    body(extensions=persisted()),
    body(query=KEPT, extensions=persisted()),
    body(extensions=persisted()),
    body(extensions=persisted(version=2)),
    b"{",
    b"null",
    b"[]",
    b'[{"query": "{ __typename }"}]',
]
"""Sent with each of ``ACCEPTS``: answers, GraphQL errors, request errors (whose status depends on
``Accept``), refusals, persisted-query misses and hits, and bodies that are not one operation."""


class Ask(NamedTuple):
    """One POST; a header that is None is not sent."""

    body: bytes
    accept: str | None = "*/*"
    content_type: str | None = "application/json"
    key: str = OPS_KEY
    path: str = "/graphql"


ASKS_AROUND = [
    Ask(body(query=ONE, variables={"id": ALL[0]}), content_type="application/json; charset=utf-8"),
    Ask(body(query=ONE, variables={"id": ALL[1]}), content_type="application/json;charset=UTF-8"),
    Ask(body(query=ONE, variables={"id": ALL[3]}), content_type="Application/JSON"),
    Ask(body(query="{ __typename }"), content_type="application/json; charset=latin-1"),
    Ask(body(query="{ __typename }"), content_type="application/json; profile=x"),
    Ask(body(query="{ __typename }"), content_type="text/plain"),
    Ask(body(query="{ __typename }"), content_type=None),
    Ask(body(query="{ __typename }"), path="/graphql?query=%7B__typename%7D"),
    Ask(body(query=ONE, variables={"id": ALL[2]}), accept="text/event-stream"),
    Ask(body(query=ONE, variables={"id": ALL[2]}), accept="application/json, text/event-stream"),
    Ask(
        body(query=ONE, variables={"id": ALL[2]}),
        accept='multipart/mixed;subscriptionSpec="1.0", application/json',
    ),
    Ask(body(query=ONE, variables={"id": ALL[2]}), key=BOT_KEY),
    Ask(body(query=ONE, variables={"id": ALL[2]}), key=BOT_KEY, accept=GRAPHQL_RESPONSE_JSON),
]
"""Content types, a query string, streams and a caller without the viewer role."""


class Answer(NamedTuple):
    status: int
    headers: list[tuple[str, str]]
    body: bytes


class Gateways(NamedTuple):
    fast: httpx.AsyncClient
    stock: httpx.AsyncClient
    fast_app: Starlette
    stock_app: Starlette


_REQUEST_ID = re.compile(rb'"requestId": ?"[^"]*"')
_MAX_AGE = re.compile(r"max-age=\d+")


async def answer(client: httpx.AsyncClient, ask: Ask) -> Answer:
    """Status, headers and body, less what differs by request: the date, the request id (its
    header, and an INTERNAL error's ``requestId``) and ``max-age`` (it counts down by the clock)."""
    request = client.build_request(
        "POST", ask.path, content=ask.body, headers={"authorization": f"Bearer {ask.key}"}
    )
    for name, value in (("accept", ask.accept), ("content-type", ask.content_type)):
        if value is None:
            request.headers.pop(name, None)
        else:
            request.headers[name] = value
    response = await client.send(request)
    headers = sorted(
        (name, _MAX_AGE.sub("max-age=N", value))
        for name, value in response.headers.multi_items()
        if name not in ("date", "x-request-id")
    )
    return Answer(
        response.status_code, headers, _REQUEST_ID.sub(b'"requestId":""', response.content)
    )


async def answer_alike(gateways: Gateways, ask: Ask) -> Answer:
    on = await answer(gateways.fast, ask)
    off = await answer(gateways.stock, ask)
    assert on == off, ask
    return on


@pytest.fixture
async def both() -> AsyncIterator[Gateways]:
    async with (
        serving(Sandbox(SandboxConfig(executions_per_source=40)).app(), lifespan="off") as on_url,
        serving(Sandbox(SandboxConfig(executions_per_source=40)).app(), lifespan="off") as off_url,
    ):
        fast_app = create_app(configured(on_url, fast_paths=True))
        stock_app = create_app(configured(off_url, fast_paths=False))
        async with (
            serving(fast_app) as on,
            serving(stock_app) as off,
            httpx.AsyncClient(base_url=on, timeout=30) as fast,
            httpx.AsyncClient(base_url=off, timeout=30) as stock,
        ):
            yield Gateways(fast, stock, fast_app, stock_app)


def configured(sandbox_url: str, *, fast_paths: bool) -> GatewayConfig:
    """The demo config, with one cursor key for both gateways so their cursors are equal, and
    API keys: one client with both roles, one (the bot) that may only decide."""
    server = {"fast_paths": fast_paths, "cursor_secret_env": "DIFF_CURSOR_SECRET"}
    auth = {
        "mode": "api_key",
        "clients": [
            {"name": "ops", "key_env": "OPS_KEY", "roles": ["viewer", "approver"]},
            {"name": "bot", "key_env": "BOT_KEY", "roles": ["approver"], "reviewer_id": "bot@x"},
        ],
    }
    env = {"DIFF_CURSOR_SECRET": "same-key", "OPS_KEY": OPS_KEY, "BOT_KEY": BOT_KEY}
    return demo_config_with(sandbox_url, env, server=server, auth=auth)


async def test_speed_on_and_off_answer_alike(both: Gateways) -> None:
    seen_errors = seen_nulls = 0
    for query, variables in CORPUS:
        on = await answer_alike(both, Ask(body(query=query, variables=variables)))
        result = json.loads(on.body)
        seen_errors += bool(result.get("errors"))
        seen_nulls += "null" in repr(result.get("data")) or "None" in repr(result.get("data"))
    assert seen_errors >= 8  # the corpus does exercise errors
    assert seen_nulls >= 3

    statuses = set()
    for accept in ACCEPTS:
        for sent in BODIES:
            statuses.add((await answer_alike(both, Ask(sent, accept=accept))).status)
    for ask in ASKS_AROUND:
        statuses.add((await answer_alike(both, ask)).status)
    assert statuses >= {200, 400, 403, 415}

    pending = await graphql(
        both.fast,
        "{ pendingApprovals(first: 2) { edges { node { id } } } }",
        headers={"authorization": f"Bearer {OPS_KEY}"},
    )
    approval = pending["data"]["pendingApprovals"]["edges"][0]["node"]["id"]
    for attempt, accept in enumerate([None, GRAPHQL_RESPONSE_JSON, "*/*"]):
        # A decision by the bot (approver only), then the same one again (already recorded).
        variables = {"input": {"approvalId": approval, "notes": f"try {attempt}"}}
        ask = Ask(body(query=DECIDE, variables=variables), accept=accept, key=BOT_KEY)
        decided = json.loads((await answer_alike(both, ask)).body)
        assert decided["data"]["approve"]["__typename"]

    # Each gateway answered the common shape on the path its mode says.
    taken = both.fast_app.state.graphql.fast_posts
    assert taken >= len(CORPUS) if FAST_PATHS else taken == 0
    assert both.stock_app.state.graphql.fast_posts == 0


async def test_the_fixtures_mode_switch_reaches_served_gateways(gateway: httpx.AsyncClient) -> None:
    """``GATEWAY_TEST_FAST_PATHS`` decides what the suite's gateways run (scripts/README.md)."""
    from gateway.http import app as app_module

    assert vars(app_module)["build_schema"](None).fast_paths is FAST_PATHS
