"""Upstream faults end to end: the sandbox misbehaves, the gateway answers with typed errors.

One test per sandbox fault mode, each faulting one kind's endpoints only (``Faults.only``) and
asking for an execution of another kind too: the faulted field is null with its code and
source, the other is intact, and the request returns. Then the breaker opening and closing
again, the request deadline, and a scan for leaked secrets. No test asserts a duration.
"""

from __future__ import annotations

import asyncio
from contextlib import asynccontextmanager
from typing import TYPE_CHECKING, Any

import httpx
import pytest

from adapters.transports import UPSTREAM_CLIENTS
from gateway.config import parse_config
from gateway.demo import demo_raw_config
from gateway.http.app import create_app
from sandbox import SANDBOX_CREDENTIALS
from tests.serving import graphql, serving

if TYPE_CHECKING:
    from collections.abc import AsyncIterator

    from sandbox import Sandbox

pytestmark = pytest.mark.e2e

RV_ID = "rv:exec_xyz789"
VELT_ID = "velt:exec_1777374504255_xzy43k9q"
TL_ID = "tl:maip-orch:01JDEMO0000000000000000000"
ZAIA_ID = "zaia:5d7c0a4e-0000-4000-8000-000000000001"
RV_ENDPOINTS = "/v1/orchestrate/"
VELT_ENDPOINTS = "/v2/workflow/"
VELT_GET = "POST /v2/workflow/executions/get"

TWO = """query ($a: ID!, $b: ID!) {
  a: execution(id: $a) { id status }
  b: execution(id: $b) { id status }
}"""
SOURCES = "{ sources { name health circuitState } }"

FAST_SOURCES: dict[str, Any] = {"timeout_s": 1.0, "retries": 1, "breaker_failures": 0}
"""Short attempts so a hang costs little; no breaker, so each test sees every call."""


@asynccontextmanager
async def gateway_for(
    sandbox_url: str,
    *,
    deadline_s: float = 5.0,
    auth: dict[str, Any] | None = None,
    env: dict[str, str] | None = None,
    sources: dict[str, Any] | None = None,
    upstream_client: str | None = None,
) -> AsyncIterator[httpx.AsyncClient]:
    """The demo gateway with its request deadline and every source's settings overridden."""
    raw, demo_env = demo_raw_config(sandbox_url)
    env = {**demo_env, **(env or {})}
    raw["server"]["request_deadline_s"] = deadline_s
    if upstream_client is not None:
        raw["server"]["upstream_client"] = upstream_client
    if auth is not None:
        raw["auth"] = auth
    for source in raw["sources"]:
        source.update(sources or FAST_SOURCES)
    async with (
        serving(create_app(parse_config(raw, env))) as url,
        httpx.AsyncClient(base_url=url, timeout=30) as client,
    ):
        yield client


@pytest.fixture
async def gateway_fast(sandbox_url: str) -> AsyncIterator[httpx.AsyncClient]:
    async with gateway_for(sandbox_url) as client:
        yield client


def calls_to(sandbox: Sandbox, fragment: str) -> int:
    return sum(n for endpoint, n in sandbox.stats.calls.items() if fragment in endpoint)


async def two(client: httpx.AsyncClient, faulted: str, intact: str) -> tuple[dict[str, Any], Any]:
    """Ask for a faulted and an intact execution; check the intact half; return the error."""
    body = await graphql(client, TWO, {"a": faulted, "b": intact})
    assert body["data"]["a"] is None
    assert body["data"]["b"]["id"] == intact
    (error,) = body["errors"]
    assert error["path"] == ["a"]
    return error, body


@pytest.mark.parametrize("upstream_client", UPSTREAM_CLIENTS)
@pytest.mark.parametrize(
    ("mode", "code"),
    [
        ("none", None),
        ("reset", "UPSTREAM_UNAVAILABLE"),
        ("unavailable", "UPSTREAM_UNAVAILABLE"),
        ("malformed_json", "UPSTREAM_BAD_RESPONSE"),
        ("rate_limit", "UPSTREAM_RATE_LIMITED"),
        ("slow_body", "UPSTREAM_TIMEOUT"),
    ],
)
async def test_every_upstream_client_answers_alike(
    sandbox_url: str, sandbox: Sandbox, upstream_client: str, mode: str, code: str | None
) -> None:
    """``server.upstream_client`` changes how calls are carried, never what a fault becomes."""
    sandbox.faults.update({"mode": mode, "only": RV_ENDPOINTS, "retry_after_s": 30})
    async with gateway_for(sandbox_url, upstream_client=upstream_client) as client:
        if code is None:
            body = await graphql(client, TWO, {"a": RV_ID, "b": TL_ID})
            assert body["data"]["a"]["id"] == RV_ID
            assert "errors" not in body
            return
        error, _ = await two(client, RV_ID, TL_ID)
    assert error["extensions"]["code"] == code
    assert error["extensions"]["source"] == "rv"


async def test_hang_times_out_the_faulted_source_only(
    gateway_fast: httpx.AsyncClient, sandbox: Sandbox
) -> None:
    sandbox.faults.update({"mode": "hang", "only": VELT_ENDPOINTS})
    error, _ = await two(gateway_fast, VELT_ID, RV_ID)
    assert error["extensions"]["code"] == "UPSTREAM_TIMEOUT"
    assert error["extensions"]["source"] == "velt"
    assert calls_to(sandbox, VELT_GET) == 2  # a Velt read is a POST, and still retried once


async def test_reset_is_upstream_unavailable(
    gateway_fast: httpx.AsyncClient, sandbox: Sandbox
) -> None:
    sandbox.faults.update({"mode": "reset", "only": RV_ENDPOINTS})
    error, _ = await two(gateway_fast, RV_ID, TL_ID)
    assert error["extensions"]["code"] == "UPSTREAM_UNAVAILABLE"
    assert error["extensions"]["source"] == "rv"


async def test_malformed_json_is_a_bad_response_and_not_retried(
    gateway_fast: httpx.AsyncClient, sandbox: Sandbox
) -> None:
    sandbox.faults.update({"mode": "malformed_json", "only": VELT_ENDPOINTS})
    error, _ = await two(gateway_fast, VELT_ID, RV_ID)
    assert error["extensions"]["code"] == "UPSTREAM_BAD_RESPONSE"
    assert error["extensions"]["source"] == "velt"
    assert calls_to(sandbox, VELT_GET) == 1


async def test_wrong_shape_is_a_bad_response(
    gateway_fast: httpx.AsyncClient, sandbox: Sandbox
) -> None:
    sandbox.faults.update({"mode": "wrong_shape", "only": RV_ENDPOINTS})
    error, _ = await two(gateway_fast, RV_ID, TL_ID)
    assert error["extensions"]["code"] == "UPSTREAM_BAD_RESPONSE"
    assert error["extensions"]["source"] == "rv"
    assert calls_to(sandbox, RV_ENDPOINTS) == 1


async def test_rate_limit_beyond_the_deadline_gives_up_with_the_hint(
    gateway_fast: httpx.AsyncClient, sandbox: Sandbox
) -> None:
    sandbox.faults.update({"mode": "rate_limit", "only": VELT_ENDPOINTS, "retry_after_s": 30})
    error, _ = await two(gateway_fast, VELT_ID, RV_ID)
    assert error["extensions"]["code"] == "UPSTREAM_RATE_LIMITED"
    assert error["extensions"]["source"] == "velt"
    assert error["extensions"]["retryAfter"] == 30
    assert calls_to(sandbox, VELT_GET) == 1  # 30 s do not fit in the deadline: no retry


async def test_slow_body_times_out(gateway_fast: httpx.AsyncClient, sandbox: Sandbox) -> None:
    sandbox.faults.update({"mode": "slow_body", "only": RV_ENDPOINTS, "slow_body_s": 5})
    error, _ = await two(gateway_fast, RV_ID, TL_ID)
    assert error["extensions"]["code"] == "UPSTREAM_TIMEOUT"
    assert error["extensions"]["source"] == "rv"


async def test_unavailable_is_retried_then_reported(
    gateway_fast: httpx.AsyncClient, sandbox: Sandbox
) -> None:
    sandbox.faults.update({"mode": "unavailable", "only": VELT_ENDPOINTS})
    error, _ = await two(gateway_fast, VELT_ID, TL_ID)
    assert error["extensions"]["code"] == "UPSTREAM_UNAVAILABLE"
    assert error["extensions"]["source"] == "velt"
    assert error["extensions"]["httpStatus"] == 503
    assert calls_to(sandbox, VELT_GET) == 2


async def test_fail_rate_applies_the_chosen_mode_to_that_share(
    gateway_fast: httpx.AsyncClient, sandbox: Sandbox
) -> None:
    sandbox.faults.update({"fail_rate": 1.0, "mode": "wrong_shape", "only": RV_ENDPOINTS})
    error, _ = await two(gateway_fast, RV_ID, ZAIA_ID)
    assert error["extensions"]["code"] == "UPSTREAM_BAD_RESPONSE"
    sandbox.faults.update({"fail_rate": 0.0, "mode": "none"})
    body = await graphql(gateway_fast, TWO, {"a": RV_ID, "b": ZAIA_ID})
    assert "errors" not in body


async def test_the_request_deadline_ends_a_hang_before_the_attempt_timeout(
    sandbox_url: str, sandbox: Sandbox
) -> None:
    sandbox.faults.update({"mode": "hang", "only": RV_ENDPOINTS})
    settings: dict[str, Any] = {"timeout_s": 60.0, "retries": 2, "breaker_failures": 0}
    async with gateway_for(sandbox_url, deadline_s=1.0, sources=settings) as client:
        error, _ = await two(client, RV_ID, TL_ID)
    assert error["extensions"]["code"] == "UPSTREAM_TIMEOUT"
    assert error["extensions"]["source"] == "rv"
    assert "deadline" in error["message"]
    assert calls_to(sandbox, RV_ENDPOINTS) == 1  # nothing left for a retry


async def test_the_breaker_opens_fails_fast_and_closes_after_the_cooldown(
    sandbox_url: str, sandbox: Sandbox
) -> None:
    settings: dict[str, Any] = {
        "timeout_s": 5.0,
        "retries": 0,
        "breaker_failures": 2,
        "breaker_cooldown_s": 2.0,
    }
    sandbox.faults.update({"mode": "unavailable", "only": RV_ENDPOINTS})
    async with gateway_for(sandbox_url, sources=settings) as client:
        for _ in range(2):
            error, _ = await two(client, RV_ID, TL_ID)
            assert error["extensions"]["code"] == "UPSTREAM_UNAVAILABLE"
        states = await source_states(client)
        assert states["rv"] == ("DOWN", "open")
        assert states["tl"] == ("UP", "closed")

        error, _ = await two(client, RV_ID, TL_ID)
        assert error["extensions"]["code"] == "UPSTREAM_UNAVAILABLE"
        assert error["extensions"]["source"] == "rv"
        assert "circuit open" in error["message"]
        assert calls_to(sandbox, RV_ENDPOINTS) == 2  # failed fast: no third call

        sandbox.faults.update({"mode": "none"})
        for _ in range(200):
            states = await source_states(client)
            if states["rv"][1] != "open":
                break
            await asyncio.sleep(0.05)
        assert states["rv"] == ("DEGRADED", "half_open")

        body = await graphql(client, TWO, {"a": RV_ID, "b": TL_ID})
        assert "errors" not in body
        assert calls_to(sandbox, RV_ENDPOINTS) == 3  # the one probe
        assert (await source_states(client))["rv"] == ("UP", "closed")


async def source_states(client: httpx.AsyncClient) -> dict[str, tuple[str, str]]:
    body = await graphql(client, SOURCES)
    assert "errors" not in body
    return {s["name"]: (s["health"], s["circuitState"]) for s in body["data"]["sources"]}


@pytest.mark.parametrize(
    "mode",
    ["hang", "reset", "malformed_json", "wrong_shape", "rate_limit", "slow_body", "unavailable"],
)
async def test_no_error_carries_a_credential_or_the_upstream_url(
    gateway_fast: httpx.AsyncClient, sandbox: Sandbox, sandbox_url: str, mode: str
) -> None:
    sandbox.faults.update({"mode": mode, "retry_after_s": 30, "slow_body_s": 5})
    query = """query ($ids: [ID!]!) { executions(ids: $ids) { id } }"""
    response = await gateway_fast.post(
        "/graphql", json={"query": query, "variables": {"ids": [RV_ID, VELT_ID, TL_ID, ZAIA_ID]}}
    )
    body = response.json()
    assert len(body["errors"]) == 4
    secrets = [v for kind in SANDBOX_CREDENTIALS.values() for v in kind.values()]
    host = sandbox_url.removeprefix("http://")
    for text in [e["message"] for e in body["errors"]] + [response.text]:
        assert host not in text
        assert "127.0.0.1" not in text
        for secret in secrets:
            assert secret not in text


async def test_faults_are_set_over_the_admin_api(sandbox_url: str, sandbox: Sandbox) -> None:
    async with httpx.AsyncClient(base_url=sandbox_url) as client:
        response = await client.post(
            "/_sandbox/faults", json={"mode": "rate_limit", "only": VELT_ENDPOINTS}
        )
        assert response.status_code == 200
        assert response.json()["mode"] == "rate_limit"
        assert sandbox.faults.only == VELT_ENDPOINTS
        refused = await client.post("/_sandbox/faults", json={"mode": "explode"})
        assert refused.status_code == 400
        assert "explode" in refused.json()["error"]
    assert sandbox.faults.mode == "rate_limit"  # a refused update changes nothing


DECIDE = """mutation ($input: DecisionInput!) {
  approve(input: $input) { __typename ... on UpstreamFailure { code source } }
}"""
REVIEWER = {"authorization": "Bearer lead-secret"}


@pytest.mark.parametrize("mode", ["reset", "unavailable", "hang"])
async def test_a_velt_decision_is_sent_once_whatever_the_fault(
    sandbox_url: str, sandbox: Sandbox, mode: str
) -> None:
    """Velt decisions carry no idempotency key: a resend could count a vote twice."""
    client_config = {
        "name": "lead",
        "key_env": "LEAD_KEY",
        "roles": ["viewer", "approver"],
        "reviewer_id": "lead@example.com",
    }
    auth = {"mode": "api_key", "clients": [client_config]}
    async with gateway_for(sandbox_url, auth=auth, env={"LEAD_KEY": "lead-secret"}) as client:
        query = '{ execution(id: "velt:exec_1777400000000_waitdemo") { approvals { id status } } }'
        body = await graphql(client, query, headers=REVIEWER)
        (approval,) = [
            a for a in body["data"]["execution"]["approvals"] if a["status"] == "PENDING"
        ]
        sandbox.faults.update({"mode": mode, "only": "recordReviewerDecision"})
        variables = {"input": {"approvalId": approval["id"]}}
        body = await graphql(client, DECIDE, variables, headers=REVIEWER)
    assert body["data"]["approve"]["__typename"] == "UpstreamFailure"
    assert body["data"]["approve"]["source"] == "velt"
    assert body["data"]["approve"]["code"].startswith("UPSTREAM_")
    assert calls_to(sandbox, "recordReviewerDecision") == 1
