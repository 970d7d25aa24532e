"""Malformed requests: each is a 400 with a GraphQL error and a code, never a 500 in plain text.

Also the failure nobody waits for: a fetch that fails after another error nulled the answer
must not reach the error log ("Task exception was never retrieved").
"""

from __future__ import annotations

import asyncio
import gc
import logging
from typing import TYPE_CHECKING, Any

import httpx
import pytest

from gateway.http.app import create_app
from tests.serving import demo_config_with, serving

if TYPE_CHECKING:
    from sandbox import Sandbox

JSON = {"content-type": "application/json"}
POLL_S = 0.005
POLLS = 2_000


def only_error(response: httpx.Response) -> dict[str, Any]:
    assert response.headers["content-type"].startswith("application/json")
    body = response.json()
    assert "data" not in body or body["data"] is None
    [error] = body["errors"]
    assert isinstance(error, dict)
    return error


@pytest.mark.parametrize(
    ("content", "words"),
    [
        pytest.param(b"null", "not null", id="null"),
        pytest.param(b"42", "not a number", id="number"),
        pytest.param(b'"{ __typename }"', "not a string", id="string"),
        pytest.param(b"true", "not true", id="true"),
        pytest.param(b"[]", "not an array", id="array"),
        pytest.param(
            b'{"query": "{ __typename }", "variables": {"n": ' + b"9" * 4_400 + b"}}",
            "more than 4300 digits",
            id="huge-integer",
        ),
        pytest.param(b'{"query": "{ __typename }", "variables": {"n": NaN}}', "NaN", id="nan"),
        pytest.param(
            b'{"query": "{ __typename }", "variables": {"n": -Infinity}}',
            "-Infinity",
            id="infinity",
        ),
        pytest.param(
            b'{"query": "{ __typename }", "variables": {"n": 1e999}}',
            "beyond a 64-bit float",
            id="float-overflow",
        ),
    ],
)
async def test_a_malformed_body_is_400_with_a_code(
    gateway: httpx.AsyncClient, content: bytes, words: str
) -> None:
    response = await gateway.post("/graphql", content=content, headers=JSON)
    assert response.status_code == 400, response.text
    error = only_error(response)
    assert error["extensions"]["code"] == "BAD_USER_INPUT"
    assert words in error["message"]


@pytest.mark.parametrize(
    "variables",
    [
        pytest.param("9" * 4_400, id="huge-integer"),
        pytest.param('{"n": NaN}', id="nan"),
        pytest.param('{"n": Infinity}', id="infinity"),
    ],
)
async def test_malformed_get_variables_are_400_with_a_code(
    gateway: httpx.AsyncClient, variables: str
) -> None:
    response = await gateway.get(
        "/graphql", params={"query": "{ __typename }", "variables": variables}
    )
    assert response.status_code == 400, response.text
    assert only_error(response)["extensions"]["code"] == "BAD_USER_INPUT"


SEVERAL = "query A { __typename } query B { sources { name } }"


async def test_several_operations_need_an_operation_name(gateway: httpx.AsyncClient) -> None:
    response = await gateway.post("/graphql", json={"query": SEVERAL})
    assert response.status_code == 400
    error = only_error(response)
    assert error["extensions"]["code"] == "BAD_USER_INPUT"
    assert "operationName" in error["message"]
    over_get = await gateway.get("/graphql", params={"query": SEVERAL})
    assert over_get.status_code == 400
    assert only_error(over_get)["extensions"]["code"] == "BAD_USER_INPUT"


SUBSCRIPTION = 'subscription { executionChanged(id: "rv:exec_xyz789") { status } }'


@pytest.mark.parametrize("accept", [None, "application/json", "application/graphql-response+json"])
async def test_a_subscription_asked_for_one_answer_is_a_400_naming_the_streams(
    gateway: httpx.AsyncClient, accept: str | None
) -> None:
    headers = {"accept": accept} if accept else {}
    response = await gateway.post("/graphql", json={"query": SUBSCRIPTION}, headers=headers)
    assert response.status_code == 400
    (error,) = response.json()["errors"]
    assert error["extensions"]["code"] == "BAD_USER_INPUT"
    assert "text/event-stream" in error["message"]


async def test_a_subscription_over_get_is_refused(gateway: httpx.AsyncClient) -> None:
    """GET may only query (the GraphQL-over-HTTP spec): 405, as for a mutation."""
    over_get = await gateway.get("/graphql", params={"query": SUBSCRIPTION})
    assert over_get.status_code == 405
    assert only_error(over_get)["extensions"]["code"] == "BAD_USER_INPUT"


async def test_an_operation_name_chooses_among_several(gateway: httpx.AsyncClient) -> None:
    response = await gateway.post("/graphql", json={"query": SEVERAL, "operationName": "B"})
    assert response.status_code == 200
    assert "sources" in response.json()["data"]


async def test_one_named_operation_runs_without_a_name(gateway: httpx.AsyncClient) -> None:
    response = await gateway.post("/graphql", json={"query": "query A { __typename } # query B"})
    assert response.json() == {"data": {"__typename": "Query"}}


async def test_a_fetch_failing_after_the_answer_is_not_an_error_log(
    sandbox_url: str, sandbox: Sandbox, caplog: pytest.LogCaptureFixture
) -> None:
    """The cursor error nulls ``data`` at once; the slow fetch of a missing id fails later."""
    sandbox.faults.update({"latency_ms": 100})
    app = create_app(demo_config_with(sandbox_url))
    query = (
        '{ a: execution(id: "rv:exec_nope") { id } executionFeed(after: "junk") { __typename } }'
    )
    caplog.set_level(logging.ERROR, logger="asyncio")
    async with serving(app) as url, httpx.AsyncClient(base_url=url, timeout=30) as client:
        response = await client.post("/graphql", json={"query": query})
        assert response.json()["data"] is None
        stats = app.state.runtime.stats["rv"]
        for _ in range(POLLS):
            if stats.upstream_errors:
                break
            await asyncio.sleep(POLL_S)
        assert stats.upstream_errors == 1, "the missing id's fetch failed upstream"
        for _ in range(3):  # the failed fetch's done callbacks
            await asyncio.sleep(0)
        gc.collect()
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR], caplog.text


async def test_a_huge_number_literal_is_400_not_internal(gateway: httpx.AsyncClient) -> None:
    """Found by the fuzz: graphql-core's ID coercion raised on it, an INTERNAL error."""
    query = "{ execution(id: " + "9" * 4_400 + ") { id } }"
    response = await gateway.post("/graphql", json={"query": query})
    assert response.status_code == 400
    error = only_error(response)
    assert error["extensions"]["code"] == "BAD_USER_INPUT"
    assert "4300 digits" in error["message"]
