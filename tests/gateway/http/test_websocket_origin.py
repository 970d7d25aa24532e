"""A WebSocket from another site's page is refused, and the log names our key for it."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

import pytest
from websockets.asyncio.client import connect
from websockets.exceptions import InvalidStatus
from websockets.typing import Origin, Subprotocol

from gateway.http.app import create_app
from tests.serving import demo_config_with, serving

if TYPE_CHECKING:
    from sandbox import Sandbox


async def test_a_foreign_origin_is_refused_and_the_log_says_cors_origins(
    sandbox_url: str, sandbox: Sandbox, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING)
    async with serving(create_app(demo_config_with(sandbox_url))) as url:
        ws_url = url.replace("http://", "ws://") + "/graphql"
        with pytest.raises(InvalidStatus) as refused:
            async with connect(
                ws_url,
                subprotocols=[Subprotocol("graphql-transport-ws")],
                origin=Origin("http://evil.example"),
            ):
                pass
    assert refused.value.response.status_code == 403
    lines = [r.getMessage() for r in caplog.records]
    assert any("server.cors_origins" in line and "evil.example" in line for line in lines)
    assert not any("allowed_origins" in line for line in lines)
