"""Callers and API keys: 401 before any GraphQL work, the right caller on the context."""

from __future__ import annotations

from typing import TYPE_CHECKING

import httpx
import pytest

from gateway.config import AuthConfig, ClientConfig, parse_config
from gateway.demo import demo_raw_config
from gateway.http.app import create_app
from gateway.http.auth import ANONYMOUS, authenticate
from tests.serving import graphql, serving

if TYPE_CHECKING:
    from collections.abc import AsyncIterator

    from sandbox import Sandbox

OPS = ClientConfig(
    name="ops",
    key_env="K1",
    roles=frozenset({"viewer", "approver"}),
    reviewer_id="ops@x",
    key="ops-key",
)
VIEWER = ClientConfig(
    name="ui", key_env="K2", roles=frozenset({"viewer"}), reviewer_id=None, key="ui-key"
)
API_KEYS = AuthConfig(mode="api_key", clients=(OPS, VIEWER))


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        pytest.param("Bearer ops-key", "ops", id="ops"),
        pytest.param("bearer ui-key", "ui", id="scheme-case"),
        pytest.param("Bearer ops-ke", None, id="prefix"),
        pytest.param("Bearer ops-key2", None, id="longer"),
        pytest.param("Basic ops-key", None, id="wrong-scheme"),
        pytest.param("ops-key", None, id="no-scheme"),
        pytest.param("Bearer ", None, id="empty"),
        pytest.param(None, None, id="missing"),
    ],
)
def test_only_a_configured_key_names_a_caller(header: str | None, expected: str | None) -> None:
    caller = authenticate(API_KEYS, header)
    assert (caller.name if caller else None) == expected


def test_mode_none_is_the_anonymous_caller() -> None:
    assert authenticate(AuthConfig(mode="none"), None) is ANONYMOUS


@pytest.fixture
async def secured(sandbox_url: str) -> AsyncIterator[httpx.AsyncClient]:
    raw, env = demo_raw_config(sandbox_url)
    raw["auth"] = {
        "mode": "api_key",
        "clients": [
            {
                "name": "ops",
                "key_env": "OPS_KEY",
                "roles": ["viewer", "approver"],
                "reviewer_id": "ops@x",
            },
            {"name": "ui", "key_env": "UI_KEY", "roles": ["viewer"]},
        ],
    }
    env = {**env, "OPS_KEY": "ops-secret-key", "UI_KEY": "ui-secret-key"}
    async with (
        serving(create_app(parse_config(raw, env))) as url,
        httpx.AsyncClient(base_url=url) as client,
    ):
        yield client


@pytest.mark.parametrize(
    "headers",
    [
        pytest.param({}, id="no-key"),
        pytest.param({"authorization": "Bearer wrong"}, id="wrong-key"),
        pytest.param({"authorization": "ops-secret-key"}, id="no-bearer"),
    ],
)
async def test_no_or_wrong_key_is_401_unauthenticated(
    secured: httpx.AsyncClient, sandbox: Sandbox, headers: dict[str, str]
) -> None:
    response = await secured.post(
        "/graphql", json={"query": '{ execution(id: "rv:exec_xyz789") { id } }'}, headers=headers
    )
    assert response.status_code == 401
    assert response.headers["www-authenticate"].startswith("Bearer")
    (error,) = response.json()["errors"]
    assert error["extensions"]["code"] == "UNAUTHENTICATED"
    assert sandbox.stats.total == 0


async def test_a_known_key_is_let_in(secured: httpx.AsyncClient) -> None:
    body = await graphql(
        secured,
        '{ execution(id: "rv:exec_xyz789") { id } }',
        headers={"authorization": "Bearer ui-secret-key"},
    )
    assert body == {"data": {"execution": {"id": "rv:exec_xyz789"}}}


async def test_healthz_needs_no_key(secured: httpx.AsyncClient) -> None:
    assert (await secured.get("/healthz")).status_code == 200
