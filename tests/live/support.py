"""Helpers for the live tests: a hand-driven clock, a graphql-transport-ws client, signed
deliveries, and the gateway + sandbox served on loopback."""

from __future__ import annotations

import asyncio
import json
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import httpx
from websockets.asyncio.client import ClientConnection, connect

from gateway.http.app import create_app
from sandbox.webhooks import SANDBOX_WEBHOOK_SECRETS, WebhookEvent, signed_delivery
from tests.serving import demo_config_with, serving

if TYPE_CHECKING:
    from collections.abc import AsyncIterator, Awaitable, Callable

    from gateway.live.hub import LiveHub
    from sandbox import Sandbox

__all__ = [
    "KINDS",
    "Live",
    "ManualClock",
    "TransportWS",
    "eventually",
    "live_gateway",
    "running_id",
    "send_webhook",
]

KINDS = {"rotavision": "rv", "velt": "velt", "truthlocks": "tl"}
"""Kinds with webhooks → their source name in the demo config."""
GET_ENDPOINTS = {
    "rotavision": "GET /v1/orchestrate/executions/{execution_id}",
    "velt": "POST /v2/workflow/executions/get",
    "truthlocks": "GET /v1/orchestrations/{orchestration_id}",
    "nesting": "GET /api/v1/executions/nestings",
}


class ManualClock:
    """The polls' ``sleep``: nothing waits until ``tick`` releases every sleeper once."""

    def __init__(self) -> None:
        self._sleepers: list[asyncio.Future[None]] = []

    async def sleep(self, seconds: float) -> None:
        future = asyncio.get_running_loop().create_future()
        self._sleepers.append(future)
        try:
            await future
        finally:
            if future in self._sleepers:
                self._sleepers.remove(future)

    @property
    def sleepers(self) -> int:
        return len(self._sleepers)

    def tick(self) -> None:
        sleepers, self._sleepers = self._sleepers, []
        for future in sleepers:
            if not future.done():
                future.set_result(None)


async def eventually(check: Callable[[], bool], *, what: str = "condition") -> None:
    """Wait (bounded) until ``check()`` holds: for work the server does after answering."""
    for _ in range(1000):
        if check():
            return
        await asyncio.sleep(0.005)
    raise AssertionError(f"never happened: {what}")


async def until(check: Callable[[], Awaitable[bool]], *, what: str, tries: int = 500) -> None:
    """Wait (bounded) until the awaited ``check()`` holds: for what is read over HTTP."""
    for _ in range(tries):
        if await check():
            return
        await asyncio.sleep(0.01)
    raise AssertionError(f"never happened: {what}")


@dataclass
class Live:
    url: str
    http: httpx.AsyncClient
    hub: LiveHub
    sandbox: Sandbox
    clock: ManualClock

    def reads(self, kind: str) -> int:
        return self.sandbox.stats.calls[GET_ENDPOINTS[kind]]

    @property
    def ws_url(self) -> str:
        return self.url.replace("http://", "ws://") + "/graphql"


@asynccontextmanager
async def live_gateway(
    sandbox: Sandbox, sandbox_url: str, *, env: dict[str, str] | None = None, **sections: Any
) -> AsyncIterator[Live]:
    clock = ManualClock()
    app = create_app(demo_config_with(sandbox_url, env, **sections), live_sleep=clock.sleep)
    async with (
        serving(app) as url,
        httpx.AsyncClient(base_url=url, timeout=30) as client,
    ):
        yield Live(url, client, app.state.live, sandbox, clock)


def running_id(sandbox: Sandbox, kind: str) -> str:
    """An execution that is running and can finish alone (no human step waiting)."""
    runs = {
        "rotavision": sandbox.rotavision.executions,
        "velt": sandbox.velt.executions,
        "truthlocks": sandbox.truthlocks.orchestrations,
        "nesting": sandbox.nesting.executions,
    }[kind]
    for native_id, run in runs.items():
        if run.get("status") != "running" or run.get("parentId"):
            continue
        if kind == "velt" and any(s.get("status") == "waiting" for s in run["steps"]):
            continue
        return native_id
    raise AssertionError(f"the sandbox has no running {kind} execution")


async def send_webhook(
    live: Live,
    event: WebhookEvent,
    *,
    secret: str | None = None,
    event_id: str | None = None,
    headers: dict[str, str] | None = None,
    body: bytes | None = None,
) -> httpx.Response:
    signed_body, signed_headers = signed_delivery(
        event, secret or SANDBOX_WEBHOOK_SECRETS[event.kind], event_id=event_id
    )
    return await live.http.post(
        f"/webhooks/{KINDS[event.kind]}",
        content=body if body is not None else signed_body,
        headers=headers if headers is not None else signed_headers,
    )


class TransportWS:
    """A minimal graphql-transport-ws client (answers pings, counts them)."""

    def __init__(self, socket: ClientConnection) -> None:
        self.socket = socket
        self.pings = 0

    @classmethod
    @asynccontextmanager
    async def open(
        cls, url: str, payload: dict[str, Any] | None = None, **options: Any
    ) -> AsyncIterator[TransportWS]:
        async with connect(url, subprotocols=["graphql-transport-ws"], **options) as socket:  # type: ignore[list-item]
            client = cls(socket)
            await client.send({"type": "connection_init", "payload": payload or {}})
            ack = await client.receive()
            assert ack["type"] == "connection_ack", ack
            yield client

    async def send(self, message: dict[str, Any]) -> None:
        await self.socket.send(json.dumps(message))

    async def receive(self) -> dict[str, Any]:
        while True:
            message: dict[str, Any] = json.loads(await asyncio.wait_for(self.socket.recv(), 10))
            if message["type"] == "ping":
                self.pings += 1
                await self.send({"type": "pong"})
                continue
            return message

    async def subscribe(
        self, operation_id: str, query: str, variables: dict[str, Any] | None = None
    ) -> None:
        await self.send(
            {
                "id": operation_id,
                "type": "subscribe",
                "payload": {"query": query, "variables": variables or {}},
            }
        )
