"""Helpers for the notification tests: a real receiver served on loopback, and the demo gateway
with ``[[notifications]]`` targets pointing at it."""

from __future__ import annotations

import asyncio
import base64
import json
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import httpx
from standardwebhooks import Webhook
from starlette.applications import Starlette
from starlette.responses import Response
from starlette.routing import Route

from gateway.config import parse_config
from gateway.demo import demo_raw_config
from gateway.http.app import create_app
from tests.live.support import Live, ManualClock
from tests.serving import serving

if TYPE_CHECKING:
    from collections.abc import AsyncIterator

    from starlette.requests import Request

    from sandbox import Sandbox

__all__ = ["SECRET", "Delivery", "Receiver", "notifying_gateway", "receiving", "target"]

SECRET = "whsec_" + base64.b64encode(bytes(range(32))).decode()
"""A Standard Webhooks secret: 32 bytes, base64, ``whsec_``."""
SECRET_ENV = "NOTIFY_TEST_SECRET"


@dataclass(frozen=True)
class Delivery:
    headers: dict[str, str]
    body: bytes

    @property
    def webhook_id(self) -> str:
        return self.headers["webhook-id"]

    def verified(self, secret: str = SECRET) -> Any:
        """The payload, once the standardwebhooks library has verified its signature."""
        return Webhook(secret).verify(self.body, self.headers)


@dataclass
class Receiver:
    """What a receiver got, and how it answers: ``answers`` in turn (then 200), or never while
    ``hang`` is set (until ``release``)."""

    url: str = ""
    deliveries: list[Delivery] = field(default_factory=list)
    answers: list[int] = field(default_factory=list)
    hang: bool = False
    released: asyncio.Event = field(default_factory=asyncio.Event)

    async def handle(self, request: Request) -> Response:
        self.deliveries.append(Delivery(dict(request.headers), await request.body()))
        if self.hang:
            await self.released.wait()
        status = self.answers.pop(0) if self.answers else 200
        return Response(status_code=status)

    def payloads(self) -> list[Any]:
        return [json.loads(d.body) for d in self.deliveries]


@asynccontextmanager
async def receiving(**options: Any) -> AsyncIterator[Receiver]:
    receiver = Receiver(**options)
    app = Starlette(routes=[Route("/hook", receiver.handle, methods=["POST"])])
    async with serving(app, lifespan="off") as url:
        receiver.url = f"{url}/hook"
        try:
            yield receiver
        finally:
            receiver.released.set()  # a hanging request must end for the server to stop


def target(receiver: Receiver, name: str = "ops", **keys: Any) -> dict[str, Any]:
    """A ``[[notifications]]`` table for ``receiver``: every event, quick retries."""
    table: dict[str, Any] = {
        "name": name,
        "url": receiver.url,
        "secret_env": SECRET_ENV,
        "events": [
            "approval.requested",
            "approval.resolved",
            "execution.failed",
            "execution.completed",
        ],
        "backoff_s": 0.05,
        "timeout_s": 2,
    }
    table.update(keys)
    return table


@asynccontextmanager
async def notifying_gateway(
    sandbox: Sandbox,
    sandbox_url: str,
    targets: list[dict[str, Any]],
    *,
    env: dict[str, str] | None = None,
    **sections: dict[str, Any],
) -> AsyncIterator[Live]:
    """The demo gateway (sections merged in) with ``targets``, served on loopback."""
    raw, demo_env = demo_raw_config(sandbox_url)
    for section, values in sections.items():
        raw.setdefault(section, {}).update(values)
    raw["notifications"] = targets
    config = parse_config(raw, {**demo_env, SECRET_ENV: SECRET, **(env or {})})
    clock = ManualClock()
    app = create_app(config, live_sleep=clock.sleep)
    async with (
        serving(app) as url,
        httpx.AsyncClient(base_url=url, timeout=30) as client,
    ):
        yield Live(url, client, app.state.live, sandbox, clock)
