"""The ``operator`` role, declared on the run-control mutations, is enforced on every transport."""

from __future__ import annotations

import json
import logging
from typing import TYPE_CHECKING, Any

import httpx
import pytest

from gateway.http.app import create_app
from tests.gateway.gate.test_matrix import refusal
from tests.serving import demo_config_with, serving

if TYPE_CHECKING:
    from collections.abc import AsyncIterator

    from sandbox import Sandbox

pytestmark = pytest.mark.e2e

VIEWER_KEY = "viewer-approver-key-" + "v" * 20
OPERATOR_KEY = "operator-key-" + "o" * 24
START = (
    'mutation { startExecution(input: {source: "rv", workflowId: "wf_lead_scoring", '
    'inputs: {}, idempotencyKey: "roles"}) { __typename } }'
)
CANCEL = 'mutation { cancelExecution(input: {executionId: "rv:exec_xyz789"}) { __typename } }'
RERUN = (
    'mutation { rerunExecution(input: {executionId: "rv:exec_xyz789", idempotencyKey: "r"}) '
    "{ __typename } }"
)


@pytest.fixture
async def gated(sandbox_url: str) -> AsyncIterator[str]:
    clients: list[dict[str, Any]] = [
        {"name": "ui", "key_env": "UI_KEY", "roles": ["viewer", "approver"]},
        {"name": "ops", "key_env": "OPS_KEY", "roles": ["viewer", "operator"]},
    ]
    config = demo_config_with(
        sandbox_url,
        {"UI_KEY": VIEWER_KEY, "OPS_KEY": OPERATOR_KEY},
        auth={"mode": "api_key", "clients": clients},
    )
    async with serving(create_app(config)) as url:
        yield url


@pytest.mark.parametrize("query", [START, CANCEL, RERUN], ids=["start", "cancel", "rerun"])
@pytest.mark.parametrize("transport", ["post", "sse", "multipart", "websocket"])
async def test_a_caller_without_the_operator_role_is_refused_before_any_call(
    gated: str, sandbox: Sandbox, transport: str, query: str
) -> None:
    status, error = await refusal(gated, transport, query, VIEWER_KEY)
    assert error["extensions"]["code"] == "FORBIDDEN", error
    if transport != "websocket":
        assert status == 403
    assert sandbox.stats.total == 0


async def test_get_is_not_for_mutations(gated: str, sandbox: Sandbox) -> None:
    async with httpx.AsyncClient(base_url=gated) as client:
        response = await client.get(
            "/graphql", params={"query": START}, headers={"authorization": f"Bearer {OPERATOR_KEY}"}
        )
    assert response.status_code != 200
    assert sandbox.stats.total == 0


async def test_an_operator_may(gated: str, sandbox: Sandbox) -> None:
    async with httpx.AsyncClient(base_url=gated) as client:
        response = await client.post(
            "/graphql", json={"query": START}, headers={"authorization": f"Bearer {OPERATOR_KEY}"}
        )
    assert response.json() == {"data": {"startExecution": {"__typename": "RunControlSuccess"}}}
    assert sandbox.stats.calls["POST /v1/orchestrate/workflows/{workflow_id}/run"] == 1


async def test_an_attempt_the_gate_refuses_is_audited(
    gated: str, sandbox: Sandbox, caplog: pytest.LogCaptureFixture
) -> None:
    """Every run-control attempt leaves a record, the ones the gate stops too."""
    caplog.set_level(logging.INFO, logger="gateway.audit")
    await refusal(gated, "post", CANCEL, VIEWER_KEY)
    records = [json.loads(r.getMessage()) for r in caplog.records if r.name == "gateway.audit"]
    assert records == [
        {
            "event": "refused",
            "caller": "ui",
            "action": "cancelExecution",
            "outcome": "forbidden",
            "code": "FORBIDDEN",
        }
    ]
