"""The plain-POST path (``speed.plain_post``) is taken for the common request, and only for it.

Which answers it gives is ``tests/gateway/schema/test_differential.py``'s business (the same as
strawberry's, byte for byte); here the view's own count says which requests took it.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

import httpx
import pytest

from gateway.demo import demo_config
from gateway.http.app import create_app
from gateway.schema.speed import is_plain_json_post, plain_request_data
from sandbox import rotavision
from tests.conftest import FAST_PATHS
from tests.serving import demo_config_with, serving

if TYPE_CHECKING:
    from collections.abc import AsyncIterator

    from starlette.applications import Starlette

QUERY = f'{{ execution(id: "rv:{rotavision.DOC_EXAMPLE_ID}") {{ id status steps {{ kind }} }} }}'


def scope(
    *headers: tuple[bytes, bytes], method: str = "POST", query_string: bytes = b""
) -> dict[str, Any]:
    return {"method": method, "query_string": query_string, "headers": list(headers)}


JSON = (b"content-type", b"application/json")


@pytest.mark.parametrize(
    ("request_scope", "plain"),
    [
        pytest.param(scope(JSON), True, id="no-accept"),
        pytest.param(scope(JSON, (b"accept", b"*/*")), True, id="any"),
        pytest.param(scope(JSON, (b"accept", b"application/json")), True, id="json"),
        pytest.param(
            scope(JSON, (b"accept", b"application/graphql-response+json, application/json;q=0.9")),
            True,
            id="graphql-response",
        ),
        pytest.param(
            scope((b"content-type", b"application/json; charset=utf-8")), True, id="charset"
        ),
        pytest.param(scope(JSON, method="GET"), False, id="get"),
        pytest.param(scope(JSON, query_string=b"a=1"), False, id="query-string"),
        pytest.param(scope(), False, id="no-content-type"),
        pytest.param(scope((b"content-type", b"Application/JSON")), False, id="other-case"),
        pytest.param(scope((b"content-type", b"application/json; x=1")), False, id="params"),
        pytest.param(scope(JSON, JSON), False, id="two-content-types"),
        pytest.param(
            scope(JSON, (b"accept", b"*/*"), (b"accept", b"*/*")), False, id="two-accepts"
        ),
        pytest.param(scope(JSON, (b"accept", b"text/event-stream")), False, id="sse"),
        pytest.param(
            scope(JSON, (b"accept", b"application/json, text/event-stream")), False, id="sse-too"
        ),
        pytest.param(
            scope(JSON, (b"accept", b'multipart/mixed;subscriptionSpec="1.0"')),
            False,
            id="multipart",
        ),
        pytest.param(scope(JSON, (b"accept", b"text/html, */*")), False, id="browser"),
        pytest.param(scope(JSON, (b"accept", b"")), False, id="empty-accept"),
        pytest.param(scope(JSON, (b"accept", "*/*; é".encode())), False, id="not-ascii"),
    ],
)
def test_which_requests_are_plain_json_posts(request_scope: dict[str, Any], plain: bool) -> None:
    assert is_plain_json_post(request_scope) is plain


@pytest.mark.parametrize(
    "data",
    [
        [{"query": "{ __typename }"}],
        None,
        "{ __typename }",
        {"query": 5},
        {"query": "{ __typename }", "variables": [1]},
        {"query": "{ __typename }", "extensions": "x"},
    ],
)
def test_other_bodies_are_left_to_strawberry(data: object) -> None:
    assert plain_request_data(data) is None


def test_a_plain_body_reads_as_strawberry_reads_it() -> None:
    read = plain_request_data(
        {"query": "query Q { __typename }", "variables": {"a": 1}, "operationName": "Q"}
    )
    assert read is not None
    assert (read.query, read.variables, read.operation_name, read.extensions, read.protocol) == (
        "query Q { __typename }",
        {"a": 1},
        "Q",
        None,
        "http",
    )
    missing = plain_request_data({})
    assert missing is not None
    assert missing.query is None  # strawberry's "No GraphQL query found" answers it


@pytest.fixture
async def served(sandbox_url: str) -> AsyncIterator[tuple[Starlette, httpx.AsyncClient]]:
    app = create_app(demo_config(sandbox_url))
    async with serving(app) as url, httpx.AsyncClient(base_url=url, timeout=30) as client:
        yield app, client


async def test_the_common_request_takes_the_plain_path(
    served: tuple[Starlette, httpx.AsyncClient],
) -> None:
    app, client = served
    view = app.state.graphql
    assert view.fast_post_on is FAST_PATHS

    async def taken(**kwargs: Any) -> int:
        before = view.fast_posts
        response = await client.request(**{"method": "POST", "url": "/graphql", **kwargs})
        assert response.status_code in (200, 400), response.text
        return int(view.fast_posts - before)

    once = 1 if FAST_PATHS else 0
    plain = json.dumps({"query": QUERY}).encode()
    assert await taken(content=plain, headers={"content-type": "application/json"}) == once
    assert (
        await taken(
            content=plain,
            headers={
                "content-type": "application/json; charset=utf-8",
                "accept": "application/graphql-response+json",
            },
        )
        == once
    )
    left_to_strawberry: list[dict[str, Any]] = [
        {"content": b'[{"query": "{ __typename }"}]'},  # a batch
        {"content": plain, "headers": {"accept": "text/event-stream"}},  # SSE
        {"content": plain, "headers": {"accept": "text/html"}},
        {"content": plain, "params": {"a": "1"}},
        {"content": b'{"query": 5}'},
        {"method": "GET", "params": {"query": QUERY}},
    ]
    for kwargs in left_to_strawberry:
        headers = {"content-type": "application/json", **kwargs.pop("headers", {})}
        assert await taken(headers=headers, **kwargs) == 0, kwargs


async def test_fast_paths_off_turns_it_off(sandbox_url: str) -> None:
    app = create_app(demo_config_with(sandbox_url, server={"fast_paths": False}))
    async with serving(app) as url, httpx.AsyncClient(base_url=url, timeout=30) as client:
        response = await client.post("/graphql", json={"query": QUERY})
    assert response.json()["data"]["execution"]["status"]
    assert app.state.graphql.fast_post_on is False
    assert app.state.graphql.fast_posts == 0
