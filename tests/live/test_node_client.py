"""The npm ``graphql-ws`` client (what browser apps use) subscribes to the gateway for real:
the current state, then the change a signed webhook announced, then completion.

``scripts/install`` installs the pinned client into tests/live/node/node_modules.
"""

from __future__ import annotations

import asyncio
import json
import shutil
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from sandbox.progress import Progress
from sandbox.webhooks import WebhookEvent
from tests.live.support import live_gateway, running_id, send_webhook

if TYPE_CHECKING:
    from sandbox import Sandbox

pytestmark = pytest.mark.e2e

HERE = Path(__file__).resolve().parent / "node"
LINE_TIMEOUT_S = 20


async def _line(process: asyncio.subprocess.Process) -> dict[str, Any]:
    assert process.stdout is not None
    raw = await asyncio.wait_for(process.stdout.readline(), LINE_TIMEOUT_S)
    assert raw, "the node client ended without a line"
    event: dict[str, Any] = json.loads(raw)
    return event


async def test_the_graphql_ws_client_sees_state_change_and_completion(
    sandbox: Sandbox, sandbox_url: str
) -> None:
    node = shutil.which("node")
    if node is None:
        pytest.skip("node is not installed; the graphql-ws client test needs it")
    if not (HERE / "node_modules" / "graphql-ws").is_dir():
        pytest.skip("tests/live/node/node_modules is missing; scripts/install runs npm ci there")
    env = {"WEB_KEY": "key-web-0123456789"}
    auth = {
        "mode": "api_key",
        "clients": [{"name": "web", "key_env": "WEB_KEY", "roles": ["viewer"]}],
    }
    async with live_gateway(sandbox, sandbox_url, env=env, auth=auth) as live:
        native = running_id(sandbox, "velt")
        process = await asyncio.create_subprocess_exec(
            node,
            str(HERE / "subscribe.mjs"),
            live.ws_url,
            f"velt:{native}",
            "key-web-0123456789",
            cwd=HERE,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
        )
        try:
            first = await _line(process)
            assert first["event"] == "next", first
            assert first["value"]["data"]["executionChanged"]["status"] == "RUNNING"
            assert Progress(sandbox).finish("velt", native)
            response = await send_webhook(live, WebhookEvent("velt", native, "execution.completed"))
            assert response.status_code == 202
            second = await _line(process)
            assert second["value"]["data"]["executionChanged"] == {
                "id": f"velt:{native}",
                "status": "COMPLETED",
            }
            assert await _line(process) == {"event": "complete"}
            assert await asyncio.wait_for(process.wait(), LINE_TIMEOUT_S) == 0
        finally:
            if process.returncode is None:
                process.kill()
                await process.wait()
