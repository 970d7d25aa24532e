"""/healthz answers while the process lives; /readyz follows the runtime and the breakers."""

from __future__ import annotations

from typing import TYPE_CHECKING

import pytest

from gateway.core.runtime import Runtime
from gateway.demo import DEMO_EXECUTION_ID, demo_config
from gateway.http.probes import not_ready
from tests.ops.helpers import build, client_for
from tests.serving import graphql

if TYPE_CHECKING:
    import httpx
    from starlette.applications import Starlette

    from sandbox import Sandbox

pytestmark = pytest.mark.e2e

QUERY = f'{{ execution(id: "{DEMO_EXECUTION_ID}") {{ status }} }}'
BREAKER = {"breaker_failures": 2, "breaker_cooldown_s": 3600.0, "retries": 0}
"""A cooldown no slow machine outlasts: the test ends it itself (``cooldown_s = 0``)."""
MAX_TRIES = 20


def circuit(app: Starlette, source: str) -> str:
    """The source's breaker state, as the engine reports it (a build that cannot fails here)."""
    state: str = app.state.runtime.adapters[source].http.circuit_state
    return state


async def test_probes_answer_when_all_is_well(gateway: httpx.AsyncClient) -> None:
    health = await gateway.get("/healthz")
    assert (health.status_code, health.json()) == (200, {"status": "ok"})
    ready = await gateway.get("/readyz")
    assert (ready.status_code, ready.json()) == (200, {"status": "ready"})


def test_a_runtime_that_has_not_started_is_not_ready() -> None:
    reasons = not_ready(Runtime(demo_config("http://127.0.0.1:9")))
    assert list(reasons) == ["*"]


async def test_readiness_follows_a_sources_breaker(sandbox: Sandbox, sandbox_url: str) -> None:
    app = build(sandbox_url, cache={"active_ttl_s": 0.0}, sources={"rv": BREAKER})
    async with client_for(app) as client:
        assert (await client.get("/readyz")).status_code == 200
        sandbox.faults.update({"fail_rate": 1.0})
        for _ in range(MAX_TRIES):
            if circuit(app, "rv") == "open":
                break
            body = await graphql(client, QUERY)
            assert body["errors"][0]["extensions"]["code"] == "UPSTREAM_UNAVAILABLE"
        assert circuit(app, "rv") == "open"

        ready = await client.get("/readyz")
        assert ready.status_code == 503
        body = ready.json()
        assert body["status"] == "not_ready"
        assert list(body["sources"]) == ["rv"], "only the failing source is named"
        assert "circuit breaker open" in body["sources"]["rv"]
        assert (await client.get("/healthz")).status_code == 200, "alive, just not ready"

        sandbox.faults.update({"fail_rate": 0.0})
        app.state.runtime.adapters["rv"].http.breaker.cooldown_s = 0.0  # the cooldown is over
        assert circuit(app, "rv") == "half_open"
        assert "errors" not in await graphql(client, QUERY), "the half-open probe call succeeds"
        assert circuit(app, "rv") == "closed"
        ready = await client.get("/readyz")
        assert (ready.status_code, ready.json()) == (200, {"status": "ready"})
