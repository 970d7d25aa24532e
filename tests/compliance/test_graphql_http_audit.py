"""The GraphQL-over-HTTP audits of the npm package ``graphql-http``, run against the gateway.

No audit may fail with "error"; every "warn" or "notice" must be one docs/graphql-over-http.md
lists with its reason, and the list must be exact, so a new warning (or a fixed one) fails here.
``scripts/install`` installs the pinned package into tests/compliance/node_modules.
"""

from __future__ import annotations

import asyncio
import json
import re
import shutil
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

if TYPE_CHECKING:
    import httpx

pytestmark = pytest.mark.e2e

HERE = Path(__file__).resolve().parent
DOC = HERE.parents[1] / "docs" / "graphql-over-http.md"
AUDIT_TIMEOUT_S = 120
DOCUMENTED_SECTION = "## Warnings we keep"
AUDIT_ID = re.compile(r"^\|\s*`([0-9A-Z]{4})`", re.MULTILINE)


def documented_warnings() -> set[str]:
    """The audit ids in the doc's table of warnings we keep."""
    text = DOC.read_text(encoding="utf-8")
    section = text.split(DOCUMENTED_SECTION, 1)[1].split("\n## ", 1)[0]
    return set(AUDIT_ID.findall(section))


async def run_audit(url: str) -> list[dict[str, Any]]:
    node = shutil.which("node")
    if node is None:
        pytest.skip("node is not installed; the GraphQL-over-HTTP audit needs it")
    if not (HERE / "node_modules" / "graphql-http").is_dir():
        pytest.skip("tests/compliance/node_modules is missing; scripts/install runs npm ci there")
    process = await asyncio.create_subprocess_exec(
        node,
        str(HERE / "audit.mjs"),
        url,
        cwd=HERE,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    try:
        stdout, stderr = await asyncio.wait_for(process.communicate(), AUDIT_TIMEOUT_S)
    except TimeoutError:
        process.kill()
        await process.wait()
        raise
    assert process.returncode == 0, stderr.decode()
    results: list[dict[str, Any]] = json.loads(stdout)
    return results


async def test_the_gateway_passes_the_graphql_over_http_audit(
    gateway: httpx.AsyncClient,
) -> None:
    results = await run_audit(str(gateway.base_url.join("/graphql")))
    assert len(results) > 50, "the audit ran suspiciously few checks"
    errors = [f"{r['id']} {r['name']}: {r['reason']}" for r in results if r["status"] == "error"]
    assert not errors, "\n".join(errors)
    warnings = {r["id"]: f"{r['name']}: {r['reason']}" for r in results if r["status"] != "ok"}
    documented = documented_warnings()
    new = {k: v for k, v in warnings.items() if k not in documented}
    assert not new, f"undocumented audit warnings (fix or list in {DOC.name}): {new}"
    fixed = documented - set(warnings)
    assert not fixed, f"documented warnings no longer raised; drop them from {DOC.name}: {fixed}"
