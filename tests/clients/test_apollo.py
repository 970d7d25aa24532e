"""Apollo Client (run by node) speaks persisted queries with the gateway and revalidates by ETag."""

from __future__ import annotations

import asyncio
import json
import shutil
from pathlib import Path
from typing import Any

import pytest

from sandbox import truthlocks

pytestmark = pytest.mark.e2e

HERE = Path(__file__).resolve().parent
RUN_TIMEOUT_S = 60
FINISHED = f"tl:{truthlocks.DEMO_COMPLETED_ID}"


async def run_client(script: str, *args: str) -> dict[str, Any]:
    node = shutil.which("node")
    if node is None:
        pytest.skip("node is not installed; the client tests need it")
    if not (HERE / "node_modules" / "@apollo" / "client").is_dir():
        pytest.skip("tests/clients/node_modules is missing; scripts/install runs npm ci there")
    process = await asyncio.create_subprocess_exec(
        node,
        str(HERE / script),
        *args,
        cwd=HERE,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await asyncio.wait_for(process.communicate(), RUN_TIMEOUT_S)
    assert process.returncode == 0, err.decode()
    result: dict[str, Any] = json.loads(out)
    return result


async def test_apollo_persisted_queries_and_etag_revalidation(
    gateway_url: str,
) -> None:
    report = await run_client("apq.mjs", gateway_url, FINISHED)
    results = report["results"]
    assert [r["error"] for r in results] == [None, None, None]
    assert all(r["data"]["execution"]["id"] == FINISHED for r in results)
    assert results[0]["data"]["execution"]["status"] == "COMPLETED"
    exchanges = report["exchanges"]
    # Round 1: the hash alone by GET, unknown; then the document once (POST); rounds 2 and 3: the
    # hash alone by GET, the second time revalidated with If-None-Match and answered 304.
    assert [(e["method"], e["sentText"]) for e in exchanges] == [
        ("GET", False),
        ("POST", True),
        ("GET", False),
        ("GET", False),
    ]
    assert exchanges[2]["status"] == 200
    assert exchanges[3]["ifNoneMatch"] is not None
    assert exchanges[3]["status"] == 304
