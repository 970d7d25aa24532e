"""All four upstream kinds through one query, and two accounts of one kind side by side."""

from __future__ import annotations

import httpx
import pytest

from gateway.config import parse_config
from gateway.demo import demo_raw_config
from gateway.http.app import create_app
from sandbox import Sandbox, SandboxConfig, nesting, rotavision, truthlocks, velt
from tests.serving import graphql, serving

pytestmark = pytest.mark.e2e

QUERY = """query ($ids: [ID!]!) {
  executions(ids: $ids) {
    id status upstreamStatus source { name kind }
    startedAt completedAt durationMs
    cost { amounts { amount currency } credits }
    steps { kind status }
    approvals { status reviewers { id mandatory } }
    children { id }
  }
}"""


async def test_one_query_returns_executions_of_all_four_kinds_in_order(
    gateway: httpx.AsyncClient,
) -> None:
    ids = [
        f"tl:{truthlocks.DEMO_COMPLETED_ID}",
        f"velt:{velt.DEMO_WAITING_ID}",
        f"rv:{rotavision.DOC_EXAMPLE_ID}",
        f"zaia:{nesting.DEMO_TREE_ID}",
        f"velt:{velt.DOC_EXAMPLE_ID}",
        f"tl:{truthlocks.DOC_EXAMPLE_ID}",
    ]
    body = await graphql(gateway, QUERY, {"ids": ids})
    assert "errors" not in body
    tl_run, velt_wait, rv_run, zaia_root, velt_doc, tl_doc = body["data"]["executions"]
    assert [e["id"] for e in body["data"]["executions"]] == ids
    assert [e["source"]["kind"] for e in body["data"]["executions"]] == [
        "TRUTHLOCKS", "VELT", "ROTAVISION", "NESTING", "VELT", "TRUTHLOCKS",
    ]  # fmt: skip

    assert tl_run["status"] == "COMPLETED"
    assert tl_run["cost"] == {"amounts": [{"amount": "0.125", "currency": "USD"}], "credits": None}
    assert {s["kind"] for s in tl_run["steps"]} >= {"GUARDRAIL", "AGENT", "TOOL", "DECISION"}

    assert velt_wait["status"] == "WAITING_FOR_APPROVAL"
    assert velt_wait["upstreamStatus"] == "running"
    pending = [a for a in velt_wait["approvals"] if a["status"] == "PENDING"]
    assert {r["id"] for r in pending[0]["reviewers"]} == {"lead@example.com", "ops@example.com"}
    assert {"kind": "HUMAN_APPROVAL", "status": "WAITING_FOR_APPROVAL"} in velt_wait["steps"]

    assert rv_run["status"] == "COMPLETED"
    assert rv_run["durationMs"] == 126650

    assert zaia_root["cost"]["credits"] is not None
    assert zaia_root["children"], "a nesting-style execution lists its children"
    assert {s["kind"] for s in zaia_root["steps"]} == {"SUB_EXECUTION"}

    assert velt_doc["status"] == "COMPLETED"
    assert velt_doc["startedAt"].startswith("2026-04-28T")
    assert tl_doc["status"] == "PENDING"


async def test_two_accounts_of_one_kind_serve_side_by_side(sandbox_url: str) -> None:
    other = Sandbox(SandboxConfig(seed=99, executions_per_source=20))
    other_ids = [i for i in other.rotavision.executions if i not in (rotavision.DOC_EXAMPLE_ID,)]
    async with serving(other.app(), lifespan="off") as other_url:
        raw, env = demo_raw_config(sandbox_url)
        raw["sources"].append(
            {
                "name": "rv-eu",
                "kind": "rotavision",
                "base_url": other_url,
                "api_key_env": "RV_EU_KEY",
            }
        )
        env["RV_EU_KEY"] = "rv_test_sandbox"
        async with (
            serving(create_app(parse_config(raw, env))) as url,
            httpx.AsyncClient(base_url=url) as client,
        ):
            only_in_other = next(i for i in other_ids if i not in Sandbox().rotavision.executions)
            body = await graphql(
                client,
                QUERY,
                {
                    "ids": [
                        f"rv-eu:{only_in_other}",
                        f"rv:{only_in_other}",
                        "rv-eu:exec_xyz789",
                        "rv:exec_xyz789",
                    ]
                },
            )
    first, missing, other_copy, ours = body["data"]["executions"]
    assert first["source"] == {"name": "rv-eu", "kind": "ROTAVISION"}
    assert missing is None
    assert other_copy["id"] == "rv-eu:exec_xyz789"
    assert ours["id"] == "rv:exec_xyz789"
    (error,) = body["errors"]
    assert error["path"] == ["executions", 1]
    assert error["extensions"]["code"] == "NOT_FOUND"
    assert error["extensions"]["source"] == "rv"
    assert other.stats.total == 2
