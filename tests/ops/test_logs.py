"""Request ids round-trip; one line per request and per upstream call; never a secret."""

from __future__ import annotations

import io
import json
import logging
from typing import TYPE_CHECKING, Any

import pytest

from gateway.config import LoggingConfig
from gateway.core.store import ExecutionStore
from gateway.demo import DEMO_EXECUTION_ID
from gateway.http.app import create_app
from gateway.ops.logs import ACCESS_LOGGER, TextFormatter, configure_logging
from sandbox import SANDBOX_CREDENTIALS
from tests.ops.helpers import build, client_for
from tests.serving import demo_config_with, graphql

if TYPE_CHECKING:
    import httpx

    from tests.redis_server import RedisServer

pytestmark = pytest.mark.e2e

QUERY = f'query GetOne {{ execution(id: "{DEMO_EXECUTION_ID}") {{ status }} }}'
CLIENT_KEY = "sk-live-4f9c2d7e-never-log-me"
WRONG_KEY = "sk-wrong-1b2c3d-never-log-me-either"


class Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


@pytest.fixture
def json_lines(restore_logging: None) -> io.StringIO:
    stream = io.StringIO()
    configure_logging(LoggingConfig(level="debug", format="json"), stream=stream)
    return stream


def parsed(stream: io.StringIO) -> list[dict[str, Any]]:
    return [json.loads(line) for line in stream.getvalue().splitlines()]


async def test_the_callers_request_id_is_echoed(gateway: httpx.AsyncClient) -> None:
    response = await gateway.post(
        "/graphql", json={"query": QUERY}, headers={"X-Request-ID": "trace-me-42"}
    )
    assert response.headers["x-request-id"] == "trace-me-42"


@pytest.mark.parametrize(
    "incoming",
    [
        pytest.param(None, id="absent"),
        pytest.param("x" * 129, id="too-long"),
        pytest.param("has spaces in it", id="unsafe"),
    ],
)
async def test_a_request_id_is_made_when_none_usable_arrives(
    gateway: httpx.AsyncClient, incoming: str | None
) -> None:
    headers = {"X-Request-ID": incoming} if incoming else {}
    response = await gateway.get("/healthz", headers=headers)
    made = response.headers["x-request-id"]
    assert made != incoming
    assert len(made) == 32
    int(made, 16)


async def test_graphql_errors_carry_the_same_request_id(
    gateway: httpx.AsyncClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    def broken(self: ExecutionStore, source: str, native_id: str) -> None:
        raise RuntimeError("a bug")

    monkeypatch.setattr(ExecutionStore, "load", broken)
    for headers in ({"X-Request-ID": "trace-me-43"}, {}):
        response = await gateway.post("/graphql", json={"query": QUERY}, headers=headers)
        error = response.json()["errors"][0]
        assert error["extensions"]["code"] == "INTERNAL"
        assert error["extensions"]["requestId"] == response.headers["x-request-id"]
    assert response.headers["x-request-id"] != "trace-me-43"


async def test_one_json_line_per_request_and_per_upstream_call(
    sandbox_url: str, json_lines: io.StringIO
) -> None:
    async with client_for(build(sandbox_url)) as client:
        response = await client.post(
            "/graphql", json={"query": QUERY}, headers={"X-Request-ID": "trace-me-44"}
        )
        assert response.status_code == 200
    lines = parsed(json_lines)
    requests = [line for line in lines if line.get("event") == "request"]
    upstream = [line for line in lines if line.get("event") == "upstream_call"]
    assert len(requests) == 1
    assert requests[0] == requests[0] | {
        "logger": ACCESS_LOGGER,
        "level": "info",
        "request_id": "trace-me-44",
        "method": "POST",
        "path": "/graphql",
        "status": 200,
        "outcome": "ok",
        "operation": "GetOne",
        "caller": "anonymous",
    }
    assert isinstance(requests[0]["duration_ms"], float)
    assert len(upstream) == 1
    assert upstream[0] == upstream[0] | {
        "request_id": "trace-me-44",
        "source": "rv",
        "method": "GET",
        "path": "/v1/orchestrate/executions/{}",
        "status": 200,
        "attempt": 1,
        "error_code": None,
    }


async def test_no_secret_reaches_any_log_line(
    sandbox_url: str, restore_logging: None, caplog: pytest.LogCaptureFixture
) -> None:
    config = demo_config_with(
        sandbox_url,
        env={"OPS_KEY": CLIENT_KEY},
        auth={
            "mode": "api_key",
            "clients": [{"name": "ops", "key_env": "OPS_KEY", "roles": ["viewer"]}],
        },
    )
    as_json, as_text = io.StringIO(), io.StringIO()
    configure_logging(LoggingConfig(level="debug", format="json"), stream=as_json)
    text_handler = logging.StreamHandler(as_text)
    text_handler.setFormatter(TextFormatter())
    logging.getLogger().addHandler(text_handler)
    caplog.set_level(logging.DEBUG)
    async with client_for(create_app(config)) as client:
        ok = {"Authorization": f"Bearer {CLIENT_KEY}"}
        assert "errors" not in await graphql(client, QUERY, headers=ok)
        missing = '{ execution(id: "rv:exec_missing") { status } }'
        assert (await graphql(client, missing, headers=ok))["errors"]
        refused = await client.post(
            "/graphql", json={"query": QUERY}, headers={"Authorization": f"Bearer {WRONG_KEY}"}
        )
        assert refused.status_code == 401

    secrets = [CLIENT_KEY, WRONG_KEY] + [
        value for kind in SANDBOX_CREDENTIALS.values() for value in kind.values()
    ]
    secrets.remove("tenant_sandbox")  # a tenant id is an identifier, not a secret
    captured = [as_json.getvalue(), as_text.getvalue()]
    captured += [f"{r.getMessage()} {r.__dict__}" for r in caplog.records]
    assert len(parsed(as_json)) >= 5, "requests and upstream calls were logged"
    assert "ops" in as_text.getvalue(), "the caller's name is logged, its key is not"
    for text in captured:
        for secret in secrets:
            assert secret not in text
        assert "authorization" not in text.lower()


async def test_a_terminal_gets_readable_lines(sandbox_url: str, restore_logging: None) -> None:
    stream = Terminal()
    configure_logging(LoggingConfig(level="info", format="auto"), stream=stream)
    async with client_for(build(sandbox_url)) as client:
        await graphql(client, QUERY, headers={"X-Request-ID": "trace-me-45"})
    lines = stream.getvalue().splitlines()
    request = next(line for line in lines if ACCESS_LOGGER in line)
    assert "POST /graphql 200" in request
    assert "request_id=trace-me-45" in request
    assert "outcome=ok" in request
    with pytest.raises(json.JSONDecodeError):
        json.loads(request)


async def test_probes_are_logged_only_at_debug(sandbox_url: str, restore_logging: None) -> None:
    stream = io.StringIO()
    configure_logging(LoggingConfig(level="info", format="json"), stream=stream)
    async with client_for(build(sandbox_url)) as client:
        await client.get("/healthz")
        await client.get("/readyz")
    assert not [line for line in parsed(stream) if line.get("event") == "request"]


async def test_not_ready_while_redis_is_away_is_a_warning_not_an_error(
    sandbox_url: str, restore_logging: None, redis_server: RedisServer
) -> None:
    """An outage is reported by /readyz (503) and logged; it is not a bug in the gateway."""
    stream = io.StringIO()
    configure_logging(LoggingConfig(level="info", format="json"), stream=stream)
    env = {"REDIS_URL": redis_server.url, "CURSOR_SECRET": "c" * 40}
    app = create_app(
        demo_config_with(
            sandbox_url,
            env,
            state={"backend": "redis", "redis_url_env": "REDIS_URL", "timeout_s": 0.5},
            server={"cursor_secret_env": "CURSOR_SECRET"},
        )
    )
    async with client_for(app) as client:
        redis_server.stop()
        try:
            assert (await client.get("/readyz")).status_code == 503
        finally:
            redis_server.start()
    probes = [
        line
        for line in parsed(stream)
        if line.get("event") == "request" and line.get("path") == "/readyz"
    ]
    assert [line["level"] for line in probes] == ["warning"]
    assert not [line for line in parsed(stream) if line["level"] == "error"]
