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
            {"name": "bot", "key_env": "BOT_KEY", "roles": ["approver"], "reviewer_id": "bot@x"},
        ],
    }
    env = {
        **env,
        "OPS_KEY": "ops-secret-key",
        "UI_KEY": "ui-secret-key",
        "BOT_KEY": "bot-secret-key",
    }
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


BOT = {"authorization": "Bearer bot-secret-key"}
READ = '{ execution(id: "rv:exec_xyz789") { id } }'


@pytest.mark.parametrize(
    "payload",
    [
        pytest.param({"query": READ}, id="anonymous-query"),
        pytest.param({"query": "query Q { sources { name } }"}, id="named-query"),
        pytest.param(
            {
                "query": 'query Q { sources { name } } mutation M { approve(input: {approvalId: "rv:x"}) { __typename } }',
                "operationName": "Q",
            },
            id="query-chosen-from-two",
        ),
    ],
)
async def test_reading_needs_the_viewer_role(
    secured: httpx.AsyncClient, sandbox: Sandbox, payload: dict[str, str]
) -> None:
    response = await secured.post("/graphql", json=payload, headers=BOT)
    assert response.status_code == 403
    (error,) = response.json()["errors"]
    assert error["extensions"]["code"] == "FORBIDDEN"
    assert "viewer" in error["message"]
    over_get = await secured.get("/graphql", params={"query": READ}, headers=BOT)
    assert over_get.status_code == 403
    assert over_get.json()["errors"][0]["extensions"]["code"] == "FORBIDDEN"
    assert sandbox.stats.total == 0


async def test_an_approver_without_viewer_may_still_decide(secured: httpx.AsyncClient) -> None:
    body = await graphql(
        secured,
        'mutation { approve(input: {approvalId: "rv:appr_none"}) { __typename } }',
        headers=BOT,
    )
    assert "errors" not in body, body
    assert body["data"]["approve"]["__typename"] != "DecisionForbidden"


@pytest.mark.parametrize(
    "keys",
    [
        pytest.param(["Bearer ui-secret-key", "Bearer ops-secret-key"], id="two-good-keys"),
        pytest.param(["Bearer wrong", "Bearer ops-secret-key"], id="wrong-then-good"),
        pytest.param(["Bearer ops-secret-key", "Bearer ops-secret-key"], id="the-same-twice"),
    ],
)
async def test_two_authorization_headers_are_refused(
    secured: httpx.AsyncClient, sandbox: Sandbox, keys: list[str]
) -> None:
    headers = [("authorization", key) for key in keys]
    response = await secured.post("/graphql", json={"query": READ}, headers=headers)
    assert response.status_code == 400
    (error,) = response.json()["errors"]
    assert error["extensions"]["code"] == "BAD_USER_INPUT"
    assert "Authorization" in error["message"]
    assert sandbox.stats.total == 0
