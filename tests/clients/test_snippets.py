"""The client snippets of docs/clients.md, run by node against the gateway and the sandbox.

Each snippet (Apollo Client, urql, graphql-request) reads the approvals inbox and two pages of the
feed, watches the waiting execution (graphql-ws or SSE), approves its approval and follows it to
the end. Their types come from graphql-codegen run on schema.graphql, and tsc checks every snippet
against them before node runs it: a schema change that breaks a snippet fails here.
"""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest

from sandbox import rotavision

pytestmark = pytest.mark.e2e

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]
SNIPPETS = HERE / "snippets"
DOC = ROOT / "docs" / "clients.md"
IN_THE_DOC = (
    "operations.graphql",
    "codegen.yml",
    "client.ts",
    "apollo.ts",
    "urql.ts",
    "graphql-request.ts",
    "run.ts",
)
"""The snippet files docs/clients.md shows, each whole and unchanged."""
CLIENTS = ("apollo", "urql", "graphql-request")
WAITING = f"rv:{rotavision.DEMO_WAITING_ID}"
ROTAVISION_APPROVE = "POST /v1/orchestrate/executions/{execution_id}/approve"
BUILD_TIMEOUT_S = 180
RUN_TIMEOUT_S = 60


def _node() -> str:
    node = shutil.which("node")
    if node is None:
        pytest.skip("node is not installed; the client tests need it")
    if not (HERE / "node_modules" / ".bin" / "graphql-codegen").exists():
        pytest.skip("tests/clients/node_modules is missing; scripts/install runs npm ci there")
    return node


@pytest.fixture(scope="session")
def built_snippets(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The snippets, their types generated from schema.graphql and compiled by tsc, in a folder
    of this session's own (so parallel workers never write the same files)."""
    _node()
    folder = tmp_path_factory.mktemp("client-snippets")
    for source in SNIPPETS.iterdir():
        if source.is_file():
            shutil.copy(source, folder / source.name)
    shutil.copy(HERE / "package.json", folder / "package.json")  # "type": "module"
    (folder / "node_modules").symlink_to(HERE / "node_modules")
    env = {**os.environ, "GATEWAY_SCHEMA": str(ROOT / "schema.graphql")}
    bin_dir = HERE / "node_modules" / ".bin"
    for command in (
        [str(bin_dir / "graphql-codegen"), "--config", "codegen.yml"],
        [str(bin_dir / "tsc"), "-p", "tsconfig.json"],
    ):
        done = subprocess.run(  # noqa: S603 (our own pinned tools)
            command, cwd=folder, env=env, capture_output=True, timeout=BUILD_TIMEOUT_S, check=False
        )
        assert done.returncode == 0, (done.stdout + done.stderr).decode()
    return folder


async def run_snippet(folder: Path, client: str, gateway_url: str) -> dict[str, Any]:
    process = await asyncio.create_subprocess_exec(
        _node(),
        str(folder / "out" / "run.js"),
        client,
        gateway_url,
        WAITING,
        cwd=folder,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await asyncio.wait_for(process.communicate(), RUN_TIMEOUT_S)
    assert process.returncode == 0, err.decode()
    report: dict[str, Any] = json.loads(out)
    return report


@pytest.mark.parametrize("client", CLIENTS)
async def test_a_snippet_reads_the_inbox_and_feed_then_approves_and_follows_the_change(
    client: str, built_snippets: Path, gateway_url: str, sandbox: Any
) -> None:
    report = await run_snippet(built_snippets, client, gateway_url)

    assert WAITING in [item["execution"] for item in report["inbox"]]
    feed = report["feed"]
    assert len(feed) == len(set(feed)) == 10, "two pages of five, none twice"
    decision = report["decision"]
    assert decision["__typename"] == "DecisionSuccess"
    assert decision["approval"]["status"] == "APPROVED"
    assert (decision["execution"]["id"], decision["execution"]["status"]) == (WAITING, "COMPLETED")
    assert report["changes"] == ["WAITING_FOR_APPROVAL", "COMPLETED"]
    assert sandbox.stats.calls[ROTAVISION_APPROVE] == 1


@pytest.mark.parametrize("name", IN_THE_DOC)
def test_the_doc_shows_the_snippet_the_tests_run(name: str) -> None:
    text = (SNIPPETS / name).read_text(encoding="utf-8")
    assert text.strip() in DOC.read_text(encoding="utf-8"), f"docs/clients.md: {name} differs"
