"""Hostile ids are refused with BAD_USER_INPUT before any upstream call (gateway/core/ids.py)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import pytest

from tests.serving import graphql

if TYPE_CHECKING:
    import httpx

    from sandbox import Sandbox

pytestmark = pytest.mark.e2e

HOSTILE = [
    pytest.param("rv:../../admin", id="dot-dot-slash"),
    pytest.param("rv:..", id="dot-dot"),
    pytest.param("rv:.", id="dot"),
    pytest.param("rv:a/b", id="slash"),
    pytest.param("rv:a\\b", id="backslash"),
    pytest.param("rv:%2e%2e%2fadmin", id="percent-encoded"),
    pytest.param("rv:exec%00", id="percent-nul"),
    pytest.param("rv:exec\r\nX-Injected: 1", id="crlf"),
    pytest.param("rv:exec\nlog line", id="lf"),
    pytest.param("rv:exec\x00", id="nul"),
    pytest.param("rv:exec?admin=1", id="query-string"),
    pytest.param("rv:exec#frag", id="fragment"),
    pytest.param("rv:exec 1", id="space"),
    pytest.param("rv:éxec", id="non-ascii"),
    pytest.param("rv:" + "a" * 10_000, id="10-kB"),
    pytest.param("a" * 10_000, id="10-kB-opaque"),
    pytest.param("nowhere:exec_1", id="unknown-source"),
    pytest.param("RV:exec_xyz789", id="upper-case-source"),
    pytest.param(":exec_xyz789", id="no-source"),
    pytest.param("rv:", id="no-native-id"),
    pytest.param("", id="empty"),
    pytest.param("not-an-id", id="not-base64-json"),
    pytest.param("WyJTIiwicnYiLCIuLiIsIngiXQ", id="opaque-with-dot-segment"),
]


def assert_refused_without_calls(body: dict[str, Any], sandbox: Sandbox) -> None:
    assert body["errors"], body
    for error in body["errors"]:
        assert error["extensions"]["code"] == "BAD_USER_INPUT", error
        assert "\r" not in error["message"]
        assert "\n" not in error["message"]
        assert len(error["message"]) < 500
    assert sandbox.stats.total == 0


@pytest.mark.parametrize("value", HOSTILE)
async def test_a_hostile_id_is_refused_by_every_field(
    gateway: httpx.AsyncClient, sandbox: Sandbox, value: str
) -> None:
    query = """
    query ($id: ID!) {
      execution(id: $id) { id }
      node(id: $id) { id }
      executions(ids: [$id]) { id }
    }
    """
    body = await graphql(gateway, query, {"id": value})
    assert body["data"] == {"execution": None, "node": None, "executions": [None]}
    assert {tuple(e["path"]) for e in body["errors"]} == {
        ("execution",),
        ("node",),
        ("executions", 0),
    }
    assert_refused_without_calls(body, sandbox)


async def test_executions_refuses_each_hostile_id(
    gateway: httpx.AsyncClient, sandbox: Sandbox
) -> None:
    values = [p.values[0] for p in HOSTILE]
    body = await graphql(
        gateway, "query ($ids: [ID!]!) { executions(ids: $ids) { id } }", {"ids": values}
    )
    assert body["data"] == {"executions": [None] * len(values)}
    assert len(body["errors"]) == len(values)
    assert_refused_without_calls(body, sandbox)


async def test_a_hostile_id_written_into_the_document_is_refused(
    gateway: httpx.AsyncClient, sandbox: Sandbox
) -> None:
    body = await graphql(gateway, '{ execution(id: "rv:..\\u0000/\\r\\n") { id } }')
    assert_refused_without_calls(body, sandbox)
