"""``server.federation``: the subgraph's ``_service`` and ``_entities`` over real HTTP, the gate in
front of them, and today's schema unchanged without the option."""

from __future__ import annotations

from contextlib import asynccontextmanager
from typing import TYPE_CHECKING, Any

import httpx
import pytest
from graphql import DirectiveNode, ObjectTypeDefinitionNode, SchemaExtensionNode, StringValueNode
from graphql import parse as parse_document

from gateway.http.app import create_app
from gateway.schema import build_schema, schema
from sandbox import rotavision, truthlocks
from tests.federation.subgraph import APPROVER_KEY, VIEWER_KEY, federated_config
from tests.serving import serving

if TYPE_CHECKING:
    from collections.abc import AsyncIterator

    from gateway.config import GatewayConfig
    from sandbox import Sandbox

pytestmark = pytest.mark.e2e

WAITING = f"rv:{rotavision.DEMO_WAITING_ID}"
FINISHED = f"tl:{truthlocks.DEMO_COMPLETED_ID}"
ENTITIES = """query ($representations: [_Any!]!) {
  _entities(representations: $representations) {
    __typename
    ... on Execution { id status }
    ... on Step { id name execution { id } }
    ... on Approval { id approvalStatus: status execution { id } }
  }
}"""


async def post(
    client: httpx.AsyncClient,
    query: str,
    variables: dict[str, Any] | None = None,
    key: str = VIEWER_KEY,
) -> tuple[int, dict[str, Any]]:
    response = await client.post(
        "/graphql",
        json={"query": query, "variables": variables or {}},
        headers={"authorization": f"Bearer {key}"},
    )
    body: dict[str, Any] = response.json()
    return response.status_code, body


@asynccontextmanager
async def client_for(config: GatewayConfig) -> AsyncIterator[httpx.AsyncClient]:
    """An HTTP client for the gateway served with ``config``."""
    async with (
        serving(create_app(config)) as url,
        httpx.AsyncClient(base_url=url, timeout=30) as client,
    ):
        yield client


@pytest.fixture
async def subgraph(sandbox_url: str) -> AsyncIterator[httpx.AsyncClient]:
    async with client_for(federated_config(sandbox_url)) as client:
        yield client


def keyed_types(sdl: str) -> dict[str, str]:
    """Object type name -> its ``@key`` fields, as the SDL a router composes declares them."""
    keyed: dict[str, str] = {}
    for definition in parse_document(sdl).definitions:
        if isinstance(definition, ObjectTypeDefinitionNode):
            for directive in definition.directives or ():
                if directive.name.value == "key":
                    fields = next(
                        a.value for a in directive.arguments or () if a.name.value == "fields"
                    )
                    assert isinstance(fields, StringValueNode)
                    keyed[definition.name.value] = fields.value
    return keyed


def schema_links(sdl: str) -> list[DirectiveNode]:
    return [
        directive
        for definition in parse_document(sdl).definitions
        if isinstance(definition, SchemaExtensionNode)
        or type(definition).__name__ == "SchemaDefinitionNode"
        for directive in getattr(definition, "directives", None) or ()
        if directive.name.value == "link"
    ]


def test_without_the_option_the_schema_is_todays() -> None:
    """Building the subgraph leaves the plain schema's SDL as it was: no key, no federation field."""
    before = schema.as_str()
    federated = build_schema(federation=True)
    assert schema.as_str() == before
    assert keyed_types(before) == {}
    assert "_entities" not in before
    assert "_service" not in before
    assert "@link" not in before
    # The subgraph's own SDL is built from the same types: every plain type is there too.
    plain_types = {d.name.value for d in parse_document(before).definitions if hasattr(d, "name")}
    federated_types = {
        d.name.value
        for d in parse_document(federated.as_str()).definitions
        if hasattr(d, "name") and d.name is not None
    }
    assert plain_types <= federated_types


async def test_service_exports_the_sdl_with_the_three_entities_keyed_by_id(
    subgraph: httpx.AsyncClient,
) -> None:
    status, body = await post(subgraph, "{ _service { sdl } }")
    assert status == 200, body
    sdl = body["data"]["_service"]["sdl"]
    assert keyed_types(sdl) == {"Execution": "id", "Step": "id", "Approval": "id"}
    (link,) = schema_links(sdl)
    arguments = {a.name.value: a.value for a in link.arguments or ()}
    url = arguments["url"]
    assert isinstance(url, StringValueNode)
    assert url.value == "https://specs.apollo.dev/federation/v2.3"
    assert "union _Entity = Approval | Execution | Step" in sdl


async def test_entities_answer_in_order_at_one_upstream_call_per_execution(
    sandbox_url: str, subgraph: httpx.AsyncClient, sandbox: Sandbox
) -> None:
    # The step and approval ids, read from a gateway of their own (nothing shared with the subgraph).
    async with client_for(federated_config(sandbox_url, federation=False)) as plain:
        _, found = await post(
            plain,
            "query ($id: ID!) { execution(id: $id) { steps { id } approvals { id } } }",
            {"id": WAITING},
        )
    waiting = found["data"]["execution"]
    step_id, approval_id = waiting["steps"][0]["id"], waiting["approvals"][0]["id"]
    representations = [
        {"__typename": "Execution", "id": WAITING},
        {"__typename": "Step", "id": step_id},
        {"__typename": "Approval", "id": approval_id},
        {"__typename": "Execution", "id": FINISHED},
        {"__typename": "Execution", "id": WAITING},
    ]
    sandbox.stats.reset()

    status, body = await post(subgraph, ENTITIES, {"representations": representations})

    assert status == 200
    assert "errors" not in body, body["errors"]
    entities = body["data"]["_entities"]
    assert [e["__typename"] for e in entities] == [
        "Execution",
        "Step",
        "Approval",
        "Execution",
        "Execution",
    ]
    assert [entities[0]["id"], entities[1]["id"], entities[2]["id"], entities[3]["id"]] == [
        WAITING,
        step_id,
        approval_id,
        FINISHED,
    ]
    assert entities[1]["execution"]["id"] == entities[2]["execution"]["id"] == WAITING
    assert entities[3]["status"] == "COMPLETED"
    # Five representations, two executions: two upstream calls.
    assert sandbox.stats.total == 2


async def test_a_bad_representation_is_its_own_error_and_the_others_answer(
    subgraph: httpx.AsyncClient, sandbox: Sandbox
) -> None:
    representations: list[object] = [
        {"__typename": "Execution", "id": FINISHED},
        {"__typename": "Ticket", "id": FINISHED},
        {"__typename": "Step", "id": FINISHED},
        {"__typename": "Execution", "id": "nowhere:1"},
        {"__typename": "Execution", "id": 7},
        "Execution",
    ]
    status, body = await post(subgraph, ENTITIES, {"representations": representations})
    assert status == 200
    entities = body["data"]["_entities"]
    assert entities[0] == {"__typename": "Execution", "id": FINISHED, "status": "COMPLETED"}
    assert entities[1:] == [None] * 5
    errors = {tuple(e["path"]): e["extensions"]["code"] for e in body["errors"]}
    assert errors == {("_entities", n): "BAD_USER_INPUT" for n in range(1, 6)}
    assert sandbox.stats.total == 1


async def test_more_representations_than_max_ids_are_refused_before_any_call(
    sandbox_url: str, sandbox: Sandbox
) -> None:
    representations = [{"__typename": "Execution", "id": FINISHED}] * 4
    async with client_for(federated_config(sandbox_url, limits={"max_ids": 3})) as client:
        _, body = await post(client, ENTITIES, {"representations": representations})
    assert body["data"] is None
    (error,) = body["errors"]
    assert error["extensions"]["code"] == "BAD_USER_INPUT"
    assert error["extensions"]["limit"] == "max_ids"
    assert sandbox.stats.total == 0


async def test_the_gate_answers_entities_as_any_query(
    sandbox_url: str, subgraph: httpx.AsyncClient, sandbox: Sandbox
) -> None:
    representations = [{"__typename": "Execution", "id": FINISHED}]
    status, body = await post(
        subgraph, ENTITIES, {"representations": representations}, key=APPROVER_KEY
    )
    assert status == 403
    assert [e["extensions"]["code"] for e in body["errors"]] == ["FORBIDDEN"]
    status, body = await post(subgraph, ENTITIES, {"representations": representations}, key="x")
    assert status == 401
    deep = """query ($r: [_Any!]!) {
      _entities(representations: $r) { ... on Execution { parent { parent { parent { id } } } } }
    }"""
    async with client_for(federated_config(sandbox_url, limits={"max_depth": 3})) as client:
        _, body = await post(client, deep, {"r": representations})
    assert [e["extensions"].get("limit") for e in body["errors"]] == ["max_depth"]
    assert sandbox.stats.total == 0


async def test_without_the_option_there_is_no_entities_field(
    sandbox_url: str, sandbox: Sandbox
) -> None:
    async with client_for(federated_config(sandbox_url, federation=False)) as client:
        _, body = await post(client, "{ _service { sdl } }")
    assert [e["extensions"]["code"] for e in body["errors"]] == ["GRAPHQL_VALIDATION_FAILED"]
