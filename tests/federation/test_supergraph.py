"""The gateway as a subgraph of a real supergraph: composed by the Guild's composition, served by
Hive Gateway, next to a tickets subgraph whose tickets name executions.

A query that starts in a ticket reaches its execution's steps and approvals through the router's
``_entities`` call, and that call costs what ``executions(ids:)`` costs: one upstream call per
distinct execution, counted by the sandbox.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import httpx
import pytest

from gateway.http.app import create_app
from sandbox import rotavision, truthlocks
from tests.federation.subgraph import APPROVER_KEY, VIEWER_KEY, federated_config
from tests.federation.supergraph import CountedRequests, compose, hive_gateway, node_or_skip
from tests.federation.tickets import tickets_app
from tests.serving import serving

if TYPE_CHECKING:
    from collections.abc import AsyncIterator
    from pathlib import Path

    from sandbox import Sandbox

pytestmark = pytest.mark.e2e

TICKETS = 50
DISTINCT = 20

TICKET_QUERY = """{
  tickets {
    id
    title
    execution {
      id
      status
      steps { name kind status approval { id status } }
      approvals { id status reviewers { id } step { name } }
    }
  }
}"""


def ticket_executions(sandbox: Sandbox) -> list[str]:
    """``TICKETS`` execution ids over ``DISTINCT`` executions of three sources, the waiting
    Rotavision one (an approval, a human step) and the finished Truthlocks one among them."""
    pools = [
        [f"rv:{i}" for i in sandbox.rotavision.executions if i != rotavision.DEMO_WAITING_ID],
        [f"tl:{i}" for i in sandbox.truthlocks.orchestrations],
        [f"zaia:{i}" for i in sandbox.nesting.executions],
    ]
    distinct = [f"rv:{rotavision.DEMO_WAITING_ID}", f"tl:{truthlocks.DEMO_COMPLETED_ID}"]
    while len(distinct) < DISTINCT:
        pool = pools[len(distinct) % len(pools)]
        distinct.append(next(i for i in pool if i not in distinct))
    return [distinct[n % DISTINCT] for n in range(TICKETS)]


@dataclass
class Supergraph:
    router_url: str
    ticket_executions: list[str]
    """Each ticket's execution id, in the tickets' order."""
    gateway: CountedRequests
    """The gateway subgraph's app, counting the requests the router sends it."""


@pytest.fixture
async def supergraph(
    sandbox_url: str, sandbox: Sandbox, tmp_path: Path
) -> AsyncIterator[Supergraph]:
    """Hive Gateway over the gateway (a subgraph) and the tickets subgraph."""
    node_or_skip()
    ids = ticket_executions(sandbox)
    gateway = CountedRequests(create_app(federated_config(sandbox_url)))
    async with (
        serving(gateway) as gateway_url,
        serving(tickets_app(ids), lifespan="off") as tickets_url,
    ):
        subgraphs = {"executions": f"{gateway_url}/graphql", "tickets": f"{tickets_url}/graphql"}
        sdl = await compose(subgraphs, {"authorization": f"Bearer {VIEWER_KEY}"})
        async with hive_gateway(sdl, tmp_path) as router_url:
            yield Supergraph(router_url, ids, gateway)


async def ask(url: str, query: str, key: str, variables: dict[str, Any] | None = None) -> Any:
    async with httpx.AsyncClient(timeout=60) as client:
        response = await client.post(
            url,
            json={"query": query, "variables": variables or {}},
            headers={"authorization": f"Bearer {key}"},
        )
    return response.json()


async def test_a_ticket_reaches_its_executions_steps_and_approvals_at_one_call_per_execution(
    supergraph: Supergraph, sandbox_url: str, sandbox: Sandbox
) -> None:
    ids = supergraph.ticket_executions
    distinct = sorted(set(ids))
    # What executions(ids:) costs for the same executions, on a fresh gateway (nothing cached).
    async with serving(create_app(federated_config(sandbox_url, federation=False))) as plain:
        sandbox.stats.reset()
        direct = await ask(
            f"{plain}/graphql",
            "query ($ids: [ID!]!) { executions(ids: $ids) { id steps { name } approvals { id } } }",
            VIEWER_KEY,
            {"ids": distinct},
        )
        assert "errors" not in direct
        executions_ids_calls = sandbox.stats.total

    sandbox.stats.reset()
    asked = supergraph.gateway.requests
    body = await ask(supergraph.router_url, TICKET_QUERY, VIEWER_KEY)

    assert "errors" not in body, body.get("errors")
    tickets = body["data"]["tickets"]
    assert [t["execution"]["id"] for t in tickets] == ids
    by_id = {t["execution"]["id"]: t["execution"] for t in tickets}
    waiting = by_id[f"rv:{rotavision.DEMO_WAITING_ID}"]
    assert waiting["status"] == "WAITING_FOR_APPROVAL"
    assert [a["status"] for a in waiting["approvals"]] == ["PENDING"]
    assert waiting["approvals"][0]["reviewers"]
    assert waiting["steps"]
    finished = by_id[f"tl:{truthlocks.DEMO_COMPLETED_ID}"]
    assert finished["status"] == "COMPLETED"
    assert finished["steps"]
    # 50 tickets, 20 executions: the router asks the gateway once (one _entities call), which
    # costs one upstream call per distinct execution, exactly what executions(ids:) costs.
    assert supergraph.gateway.requests - asked == 1
    assert sandbox.stats.total == len(distinct) == DISTINCT
    assert sandbox.stats.total == executions_ids_calls


async def test_the_router_passes_the_callers_key_and_the_gate_still_decides(
    supergraph: Supergraph, sandbox: Sandbox
) -> None:
    sandbox.stats.reset()
    body = await ask(supergraph.router_url, TICKET_QUERY, APPROVER_KEY)
    # The tickets subgraph answers; the gateway refuses the entity fetch of a caller without
    # the viewer role (403 FORBIDDEN) before any upstream call.
    assert body["data"] is None or all(t["execution"] is None for t in body["data"]["tickets"])
    codes = {e.get("extensions", {}).get("code") for e in body["errors"]}
    assert "FORBIDDEN" in codes, body["errors"]
    assert sandbox.stats.total == 0
