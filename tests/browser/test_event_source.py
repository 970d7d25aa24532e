"""A plain page in headless Chromium follows executions with the browser's own EventSource: a
stream token from its API key, then a GET subscription; a change upstream shows on the page."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import TYPE_CHECKING

import httpx
import pytest
from starlette.responses import HTMLResponse

from gateway.http.app import create_app
from gateway.live.changelog import parse_position
from tests.browser.test_graphiql import assert_clean, drive, step
from tests.live.support import Live, ManualClock
from tests.live.test_resume import finish, running_orchestrations, subscribed
from tests.serving import demo_config_with, serving

if TYPE_CHECKING:
    from starlette.types import ASGIApp, Receive, Scope, Send

    from sandbox import Sandbox

pytestmark = pytest.mark.e2e

PAGE = (Path(__file__).resolve().parent / "eventsource.html").read_text()
KEY = "event-source-page-key-0123456789"
AUTH = {
    "mode": "api_key",
    "clients": [{"name": "page", "key_env": "PAGE_KEY", "roles": ["viewer"]}],
}


def with_page(app: ASGIApp) -> ASGIApp:
    """The gateway, plus the page at /page on the same origin (as a console would serve it)."""

    async def served(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope["path"] == "/page":
            await HTMLResponse(PAGE)(scope, receive, send)
            return
        await app(scope, receive, send)

    return served


async def test_a_page_subscribes_with_event_source_and_shows_a_change(
    sandbox: Sandbox, sandbox_url: str
) -> None:
    clock = ManualClock()
    config = demo_config_with(sandbox_url, {"PAGE_KEY": KEY}, auth=AUTH)
    app = create_app(config, live_sleep=clock.sleep)
    async with (
        serving(with_page(app)) as url,
        httpx.AsyncClient(base_url=url, timeout=30) as http,
    ):
        live = Live(url, http, app.state.live, sandbox, clock)
        native = running_orchestrations(sandbox, 1)[0]
        steps = [
            {"do": "text", "selector": "#state", "expect": "open"},
            {"do": "text", "selector": "#changes", "expect": f"tl:{native} COMPLETED at "},
        ]
        page = asyncio.create_task(drive(f"{url}/page#key={KEY}", "event-source", steps))
        await subscribed(live)
        await finish(live, native)
        seen = await page
    assert_clean(seen)
    shown = step(seen, "text")  # the first: the stream opened
    assert shown["text"] == "open"
    line = seen["steps"][1]["text"].strip()
    position = line.rsplit(" at ", 1)[1]
    assert parse_position(position) is not None, line
