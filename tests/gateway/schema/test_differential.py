"""The speed work changes no answer: a corpus of operations, speed on and off, identical results.

Two gateways (``[server] fast_paths`` true and false), each in front of its own sandbox seeded
alike, over real HTTP. Each operation goes to both, in the same order (mutations change the
sandboxes alike), and ``data`` and ``errors`` must be equal. The corpus has the shapes the e2e
tests use: every kind, nulls and errors, aliases, fragments, variables, directives, paging,
connections, introspection, decisions and refusals.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import httpx
import pytest

from gateway.http.app import create_app
from sandbox import Sandbox, SandboxConfig, nesting, rotavision, truthlocks, velt
from tests.serving import demo_config_with, graphql, serving

if TYPE_CHECKING:
    from collections.abc import AsyncIterator

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


@pytest.fixture
async def both() -> AsyncIterator[tuple[httpx.AsyncClient, httpx.AsyncClient]]:
    async with (
        serving(Sandbox(SandboxConfig(executions_per_source=40)).app(), lifespan="off") as on_url,
        serving(Sandbox(SandboxConfig(executions_per_source=40)).app(), lifespan="off") as off_url,
        serving(create_app(configured(on_url, fast_paths=True))) as on,
        serving(create_app(configured(off_url, fast_paths=False))) as off,
        httpx.AsyncClient(base_url=on, timeout=30) as fast,
        httpx.AsyncClient(base_url=off, timeout=30) as stock,
    ):
        yield fast, stock


def configured(sandbox_url: str, *, fast_paths: bool) -> GatewayConfig:
    """The demo config, with one cursor key for both gateways so their cursors are equal."""
    server = {"fast_paths": fast_paths, "cursor_secret_env": "DIFF_CURSOR_SECRET"}
    return demo_config_with(sandbox_url, {"DIFF_CURSOR_SECRET": "same-key"}, server=server)


def comparable(body: dict[str, Any]) -> dict[str, Any]:
    """The body without what differs by request (an INTERNAL error's request id)."""
    for error in body.get("errors") or ():
        error.get("extensions", {}).pop("requestId", None)
    return body


async def test_speed_on_and_off_answer_alike(
    both: tuple[httpx.AsyncClient, httpx.AsyncClient],
) -> None:
    fast, stock = both
    seen_errors = seen_nulls = 0
    for query, variables in CORPUS:
        on = comparable(await graphql(fast, query, variables))
        off = comparable(await graphql(stock, query, variables))
        assert on == off, query
        seen_errors += bool(on.get("errors"))
        seen_nulls += "null" in repr(on.get("data")) or "None" in repr(on.get("data"))
    assert seen_errors >= 8  # the corpus does exercise errors
    assert seen_nulls >= 3

    pending = await graphql(fast, "{ pendingApprovals(first: 2) { edges { node { id } } } }")
    approval = pending["data"]["pendingApprovals"]["edges"][0]["node"]["id"]
    for attempt in range(2):  # a decision, then the same one again (already recorded)
        variables = {"input": {"approvalId": approval, "notes": f"try {attempt}"}}
        on = comparable(await graphql(fast, DECIDE, variables))
        off = comparable(await graphql(stock, DECIDE, variables))
        assert on == off
        assert on["data"]["approve"]["__typename"]


async def test_the_fixtures_mode_switch_reaches_served_gateways(gateway: httpx.AsyncClient) -> None:
    """``GATEWAY_TEST_FAST_PATHS`` decides what the suite's gateways run (scripts/README.md)."""
    from gateway.http import app as app_module
    from tests.conftest import FAST_PATHS

    assert vars(app_module)["build_schema"](None).fast_paths is FAST_PATHS
