"""The suite-wide secret scan can fire: a planted secret in a log line or a response is found."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

import httpx
from starlette.applications import Starlette
from starlette.responses import PlainTextResponse
from starlette.routing import Route

from sandbox import SANDBOX_CREDENTIALS
from tests.secret_scan import FINDINGS, SecretLogScanner
from tests.serving import serving

if TYPE_CHECKING:
    from starlette.requests import Request

PLANTED = SANDBOX_CREDENTIALS["rotavision"]["api_key"]


def test_a_secret_in_a_log_record_is_found() -> None:
    before = len(FINDINGS)
    record = logging.LogRecord(
        "gateway.test", logging.INFO, __file__, 1, "calling with %s", (PLANTED,), None
    )
    SecretLogScanner().emit(record)
    assert len(FINDINGS) == before + 1
    del FINDINGS[before:]


async def test_a_secret_in_a_served_response_is_found() -> None:
    async def leak(request: Request) -> PlainTextResponse:
        return PlainTextResponse(f"oops {PLANTED}", headers={"x-echo": PLANTED})

    before = len(FINDINGS)
    app = Starlette(routes=[Route("/", leak)])
    async with serving(app, lifespan="off") as url, httpx.AsyncClient(base_url=url) as client:
        await client.get("/")
    assert len(FINDINGS) == before + 2  # the header and the body
    del FINDINGS[before:]
