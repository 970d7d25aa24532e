"""HTTP input on /graphql: body size, content types, GET for queries only, CORS, rate limits."""

from __future__ import annotations

import asyncio
import time
from collections import Counter
from contextlib import asynccontextmanager
from typing import TYPE_CHECKING, Any

import httpx
import pytest

from gateway.config import RateLimitConfig, parse_config
from gateway.core.errors import CODES
from gateway.demo import demo_config, demo_raw_config
from gateway.http.app import create_app
from gateway.http.guards import (
    JSON_BODY,
    BodyLimitMiddleware,
    RequestGuardMiddleware,
    prefers_graphql_response,
)
from tests.serving import graphql, serving

if TYPE_CHECKING:
    from collections.abc import AsyncIterator

    from starlette.types import Message, Receive, Scope, Send

    from sandbox import Sandbox

QUERY = '{ execution(id: "rv:exec_xyz789") { id } }'


@asynccontextmanager
async def configured(
    sandbox_url: str, env: dict[str, str] | None = None, **sections: Any
) -> AsyncIterator[httpx.AsyncClient]:
    """The demo gateway with some config sections replaced or extended."""
    raw, demo_env = demo_raw_config(sandbox_url)
    for name, values in sections.items():
        raw[name] = {**raw.get(name, {}), **values}
    config = parse_config(raw, {**demo_env, **(env or {})})
    async with (
        serving(create_app(config)) as url,
        httpx.AsyncClient(base_url=url, timeout=30) as client,
    ):
        yield client


def only_error(response: httpx.Response) -> dict[str, Any]:
    (error,) = response.json()["errors"]
    assert isinstance(error, dict)
    return error


# Body size


async def test_a_body_over_the_limit_is_413(sandbox_url: str, sandbox: Sandbox) -> None:
    async with configured(sandbox_url, server={"max_body_bytes": 200}) as client:
        response = await client.post(
            "/graphql", json={"query": QUERY, "variables": {"x": "y" * 300}}
        )
    assert response.status_code == 413
    error = only_error(response)
    assert error["extensions"]["code"] == "BAD_USER_INPUT"
    assert "200 bytes" in error["message"]
    assert sandbox.stats.total == 0


async def test_a_streamed_body_is_cut_off_at_the_limit(sandbox_url: str, sandbox: Sandbox) -> None:
    async def chunks() -> AsyncIterator[bytes]:  # no Content-Length: sent chunked
        yield b'{"query": "' + b" " * 150
        for _ in range(100):
            yield b" " * 1000
        yield b'"}'

    async with configured(sandbox_url, server={"max_body_bytes": 200}) as client:
        response = await client.post(
            "/graphql", content=chunks(), headers={"content-type": "application/json"}
        )
    assert response.status_code == 413
    assert only_error(response)["extensions"]["code"] == "BAD_USER_INPUT"
    assert sandbox.stats.total == 0


async def test_a_body_under_the_limit_is_served(sandbox_url: str) -> None:
    async with configured(sandbox_url, server={"max_body_bytes": 200}) as client:
        body = await graphql(client, QUERY)
    assert body == {"data": {"execution": {"id": "rv:exec_xyz789"}}}


def asgi_call(headers: list[tuple[bytes, bytes]], chunks: list[bytes]) -> tuple[Scope, Receive]:
    """An HTTP POST to /graphql whose body arrives in ``chunks``, as an ASGI server passes it."""
    pending = list(chunks)

    async def receive() -> Message:
        body = pending.pop(0)
        return {"type": "http.request", "body": body, "more_body": bool(pending)}

    scope: Scope = {"type": "http", "method": "POST", "path": "/graphql", "headers": headers}
    return scope, receive


async def reading_app(scope: Scope, receive: Receive, send: Send) -> None:
    """Reads the whole body, then answers 200."""
    more = True
    while more:
        message = await receive()
        more = message.get("more_body", False)
    await send({"type": "http.response.start", "status": 200, "headers": []})
    await send({"type": "http.response.body", "body": b""})


async def test_the_body_limit_reads_no_further_than_the_limit() -> None:
    scope, receive = asgi_call([], [b"x" * 100] * 50)  # 5 kB, no Content-Length
    calls = 0
    sent: list[Message] = []

    async def counted() -> Message:
        nonlocal calls
        calls += 1
        return await receive()

    async def send(message: Message) -> None:
        sent.append(message)

    await BodyLimitMiddleware(reading_app, max_bytes=250)(scope, counted, send)
    assert sent[0]["status"] == 413
    assert calls == 3  # 300 bytes read, then nothing more


async def test_a_bad_content_length_is_400() -> None:
    scope, receive = asgi_call([(b"content-length", b"x1")], [b""])
    sent: list[Message] = []

    async def send(message: Message) -> None:
        sent.append(message)

    await BodyLimitMiddleware(reading_app, max_bytes=250)(scope, receive, send)
    assert sent[0]["status"] == 400


async def test_the_guard_hands_on_the_object_it_parsed() -> None:
    """The view takes the body's object from the guard (``JSON_BODY``), so it is parsed once;
    the bytes still reach the application whole."""
    body = (
        b'{"query": "{ sources { name } }", "variables": {"n": 1.5, "big": 12345678901234567890}}'
    )
    scope, receive = asgi_call([(b"content-type", b"application/json")], [body[:9], body[9:]])
    seen: list[object] = []

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        seen.append(scope["state"][JSON_BODY])
        seen.append((await receive())["body"])
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b""})

    async def send(message: Message) -> None:
        pass

    await RequestGuardMiddleware(app)(scope, receive, send)
    variables = {"n": 1.5, "big": 12345678901234567890}
    assert seen == [{"query": "{ sources { name } }", "variables": variables}, body]


# Content types


@pytest.mark.parametrize(
    "content_type",
    [
        pytest.param("text/plain", id="text"),
        pytest.param("application/x-www-form-urlencoded", id="form"),
        pytest.param("multipart/form-data; boundary=x", id="multipart"),
        pytest.param("application/graphql", id="graphql"),
        pytest.param("application/json; charset=latin-1", id="latin-1"),
        pytest.param(None, id="none"),
    ],
)
async def test_a_post_that_is_not_json_is_415(
    gateway: httpx.AsyncClient, sandbox: Sandbox, content_type: str | None
) -> None:
    headers = {"content-type": content_type} if content_type else {}
    response = await gateway.post("/graphql", content=f'{{"query": "{QUERY}"}}', headers=headers)
    assert response.status_code == 415
    error = only_error(response)
    assert error["extensions"]["code"] == "BAD_USER_INPUT"
    assert "application/json" in error["message"]
    assert sandbox.stats.total == 0


@pytest.mark.parametrize(
    ("content", "words"),
    [
        pytest.param(b'{"query": "{ __typename }", "x": "\x80\xff"}', "utf-8", id="not-utf8"),
        pytest.param(
            b'{"query": "{ __typename }", "variables": ' + b"[" * 100_000 + b"]" * 100_000 + b"}",
            "nests JSON",
            id="deeply-nested",
        ),
        pytest.param(
            b'{"query": "{ __typename }", "operationName": "\\ud800"}',
            "surrogate",
            id="lone-surrogate",
        ),
        pytest.param(
            b'{"query": "{ __typename }", "variables": {"\\udc00": 1}}',
            "surrogate",
            id="lone-surrogate-key",
        ),
    ],
)
async def test_a_body_strawberry_cannot_read_is_400(
    gateway: httpx.AsyncClient, content: bytes, words: str
) -> None:
    response = await gateway.post(
        "/graphql", content=content, headers={"content-type": "application/json"}
    )
    assert response.status_code == 400
    error = only_error(response)
    assert error["extensions"]["code"] == "BAD_USER_INPUT"
    assert words in error["message"]


async def test_an_escaped_surrogate_pair_is_fine(gateway: httpx.AsyncClient) -> None:
    content = b'{"query": "query ($s: ID!) { execution(id: $s) { id } }", "variables": {"s": "\\ud83d\\ude00"}}'
    response = await gateway.post(
        "/graphql", content=content, headers={"content-type": "application/json"}
    )
    (error,) = response.json()["errors"]
    assert error["extensions"]["code"] == "BAD_USER_INPUT"  # an id, not an unreadable body
    assert error["path"] == ["execution"]


async def test_json_with_utf8_charset_is_served(gateway: httpx.AsyncClient) -> None:
    response = await gateway.post(
        "/graphql",
        content=b'{"query": "{ __typename }"}',
        headers={"content-type": "application/json; charset=UTF-8"},
    )
    assert response.json() == {"data": {"__typename": "Query"}}


# GET


async def test_a_query_over_get_is_served(gateway: httpx.AsyncClient) -> None:
    response = await gateway.get("/graphql", params={"query": QUERY})
    assert response.json() == {"data": {"execution": {"id": "rv:exec_xyz789"}}}


@pytest.mark.parametrize(
    ("query", "operation"),
    [
        pytest.param("mutation { __typename }", None, id="mutation"),
        pytest.param("subscription { __typename }", None, id="subscription"),
        pytest.param("query Q { __typename } mutation M { __typename }", "M", id="named"),
        pytest.param("mutation M { __typename } query Q { __typename }", None, id="first"),
    ],
)
async def test_a_mutation_over_get_is_405(
    gateway: httpx.AsyncClient, sandbox: Sandbox, query: str, operation: str | None
) -> None:
    params = {"query": query} | ({"operationName": operation} if operation else {})
    response = await gateway.get("/graphql", params=params)
    assert response.status_code == 405
    assert response.headers["allow"] == "POST"
    error = only_error(response)
    assert error["extensions"]["code"] == "BAD_USER_INPUT"
    assert "POST" in error["message"]
    assert sandbox.stats.total == 0


async def test_the_query_of_a_mixed_document_runs_over_get(gateway: httpx.AsyncClient) -> None:
    params = {"query": "query Q { __typename } mutation M { __typename }", "operationName": "Q"}
    response = await gateway.get("/graphql", params=params)
    assert response.json() == {"data": {"__typename": "Query"}}


async def test_another_method_is_405_with_a_json_error(gateway: httpx.AsyncClient) -> None:
    response = await gateway.put("/graphql", json={"query": QUERY})
    assert response.status_code == 405
    assert only_error(response)["extensions"]["code"] == "BAD_USER_INPUT"


# strawberry's own refusals and content negotiation


async def test_unparsable_json_is_a_400_json_error(gateway: httpx.AsyncClient) -> None:
    response = await gateway.post(
        "/graphql", content=b"{not json", headers={"content-type": "application/json"}
    )
    assert response.status_code == 400
    assert response.headers["content-type"].startswith("application/json")
    assert only_error(response)["extensions"]["code"] == "BAD_USER_INPUT"


async def test_graphql_response_json_is_answered_in_kind(gateway: httpx.AsyncClient) -> None:
    response = await gateway.post(
        "/graphql",
        json={"query": QUERY},
        headers={"accept": "application/graphql-response+json, application/json;q=0.9"},
    )
    assert response.status_code == 200
    assert response.headers["content-type"] == "application/graphql-response+json; charset=utf-8"
    assert response.json() == {"data": {"execution": {"id": "rv:exec_xyz789"}}}


async def test_a_syntax_error_is_400_without_data_for_graphql_response_json(
    gateway: httpx.AsyncClient,
) -> None:
    response = await gateway.post(
        "/graphql", json={"query": "{"}, headers={"accept": "application/graphql-response+json"}
    )
    assert response.status_code == 400
    body = response.json()
    assert "data" not in body
    assert body["errors"][0]["extensions"]["code"] == "GRAPHQL_PARSE_FAILED"


async def test_a_syntax_error_is_200_for_plain_json(gateway: httpx.AsyncClient) -> None:
    response = await gateway.post("/graphql", json={"query": "{"})
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("application/json")
    assert response.json()["errors"][0]["extensions"]["code"] == "GRAPHQL_PARSE_FAILED"


async def test_a_field_error_stays_200_for_graphql_response_json(
    gateway: httpx.AsyncClient,
) -> None:
    response = await gateway.post(
        "/graphql",
        json={"query": '{ execution(id: "rv:exec_nope") { id } }'},
        headers={"accept": "application/graphql-response+json"},
    )
    assert response.status_code == 200
    assert response.json()["data"] == {"execution": None}


@pytest.mark.parametrize(
    ("accept", "expected"),
    [
        pytest.param(None, False, id="none"),
        pytest.param("*/*", False, id="any"),
        pytest.param("application/json", False, id="json"),
        pytest.param("application/graphql-response+json", True, id="graphql-response"),
        pytest.param("application/json, application/graphql-response+json", True, id="tie"),
        pytest.param("application/graphql-response+json;q=0.5, application/json", False, id="q"),
        pytest.param("application/graphql-response+json;q=0", False, id="q0"),
        pytest.param("application/graphql-response+json;q=x", False, id="bad-q"),
    ],
)
def test_accept_negotiation(accept: str | None, expected: bool) -> None:
    assert prefers_graphql_response(accept) is expected


# CORS

ALLOWED = "https://app.example.com"


async def test_cors_answers_an_allowed_origin(sandbox_url: str) -> None:
    async with configured(sandbox_url, server={"cors_origins": [ALLOWED]}) as client:
        preflight = await client.options(
            "/graphql",
            headers={
                "origin": ALLOWED,
                "access-control-request-method": "POST",
                "access-control-request-headers": "content-type, authorization",
            },
        )
        response = await client.post("/graphql", json={"query": QUERY}, headers={"origin": ALLOWED})
    assert preflight.status_code == 200
    assert preflight.headers["access-control-allow-origin"] == ALLOWED
    assert "POST" in preflight.headers["access-control-allow-methods"]
    assert response.headers["access-control-allow-origin"] == ALLOWED


async def test_cors_refuses_another_origin(sandbox_url: str) -> None:
    evil = "https://evil.example.com"
    async with configured(sandbox_url, server={"cors_origins": [ALLOWED]}) as client:
        preflight = await client.options(
            "/graphql", headers={"origin": evil, "access-control-request-method": "POST"}
        )
        response = await client.post("/graphql", json={"query": QUERY}, headers={"origin": evil})
    assert preflight.status_code == 400
    assert "access-control-allow-origin" not in preflight.headers
    assert "access-control-allow-origin" not in response.headers


async def test_no_cors_without_origins(gateway: httpx.AsyncClient) -> None:
    response = await gateway.post("/graphql", json={"query": QUERY}, headers={"origin": ALLOWED})
    assert "access-control-allow-origin" not in response.headers


# Rate limits

SLOW = {"requests_per_s": 0.01, "burst": 2}
"""Two requests at once, then one per 100 s: the third request is always refused."""


async def test_over_the_rate_limit_is_429_with_retry_after(
    sandbox_url: str, sandbox: Sandbox
) -> None:
    async with configured(sandbox_url, rate_limit=SLOW) as client:
        statuses = [(await client.post("/graphql", json={"query": QUERY})) for _ in range(3)]
    assert [r.status_code for r in statuses] == [200, 200, 429]
    refused = statuses[2]
    retry_after = int(refused.headers["retry-after"])
    assert 1 <= retry_after <= 100
    error = only_error(refused)
    assert error["extensions"] == {"code": "RATE_LIMITED", "retryAfter": retry_after}
    assert "retry after" in error["message"]
    assert sandbox.stats.total == 1  # the first request's only; the cache served the second


async def test_rate_limits_are_per_client(sandbox_url: str) -> None:
    auth = {
        "mode": "api_key",
        "clients": [
            {"name": "ops", "key_env": "OPS_KEY", "roles": ["viewer"]},
            {"name": "ui", "key_env": "UI_KEY", "roles": ["viewer"]},
        ],
    }
    env = {"OPS_KEY": "ops-secret-key", "UI_KEY": "ui-secret-key"}
    ops = {"authorization": "Bearer ops-secret-key"}
    ui = {"authorization": "Bearer ui-secret-key"}
    async with configured(sandbox_url, env, rate_limit=SLOW, auth=auth) as client:
        ops_statuses = [
            (await client.post("/graphql", json={"query": QUERY}, headers=ops)).status_code
            for _ in range(3)
        ]
        ui_status = (await client.post("/graphql", json={"query": QUERY}, headers=ui)).status_code
        unknown = (await client.post("/graphql", json={"query": QUERY})).status_code
    assert ops_statuses == [200, 200, 429]
    assert ui_status == 200
    assert unknown == 401


async def test_rate_limit_is_on_by_default(sandbox_url: str) -> None:
    raw, env = demo_raw_config(sandbox_url)
    del raw["rate_limit"]
    config = parse_config(raw, env)
    assert config.rate_limit == RateLimitConfig()  # the defaults
    burst, per_s = config.rate_limit.burst, config.rate_limit.requests_per_s
    app = create_app(config)
    transport = httpx.ASGITransport(app=app)
    async with (
        app.router.lifespan_context(app),
        httpx.AsyncClient(transport=transport, base_url="http://gateway") as client,
    ):
        started = time.monotonic()
        responses = await asyncio.gather(
            *(client.post("/graphql", json={"query": "{ __typename }"}) for _ in range(2 * burst))
        )
        elapsed = time.monotonic() - started
    statuses = Counter(r.status_code for r in responses)
    # The burst, and at most what refilled while the requests arrived; the rest are refused.
    # (Bounded by the time they took, so a slow machine cannot make this fail or pass falsely.)
    refilled = per_s * elapsed
    assert burst <= statuses[200] <= burst + refilled + 1
    assert statuses[429] == len(responses) - statuses[200]


def test_the_demo_loosens_the_rate_limit() -> None:
    assert demo_config("http://127.0.0.1:9").rate_limit.requests_per_s == 0


def test_rate_limited_is_a_known_code() -> None:
    assert "RATE_LIMITED" in CODES
