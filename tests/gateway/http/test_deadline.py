"""The request deadline middleware (gateway/http/deadline.py): set for /graphql, seen by tasks."""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING

import httpx

from adapters.resilience import deadline_after, request_deadline
from gateway.http.deadline import DeadlineMiddleware

if TYPE_CHECKING:
    from starlette.types import Receive, Scope, Send


class Recorder:
    """An ASGI app that notes the deadline it runs under, and the one a task it starts sees."""

    def __init__(self) -> None:
        self.seen: list[tuple[float | None, float | None]] = []

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        in_task = await asyncio.create_task(self._deadline())
        self.seen.append((request_deadline.get(), in_task))
        await send({"type": "http.response.start", "status": 204, "headers": []})
        await send({"type": "http.response.body", "body": b""})

    async def _deadline(self) -> float | None:
        return request_deadline.get()


def client(app: DeadlineMiddleware) -> httpx.AsyncClient:
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://gw")


async def test_a_graphql_request_and_its_tasks_get_the_deadline_from_the_clock() -> None:
    recorder = Recorder()
    app = DeadlineMiddleware(recorder, 2.5, clock=lambda: 100.0)
    async with client(app) as http:
        assert (await http.post("/graphql")).status_code == 204
        assert (await http.get("/healthz")).status_code == 204
    assert recorder.seen == [(102.5, 102.5), (None, None)]
    assert request_deadline.get() is None  # reset once the request is answered


async def test_an_earlier_enclosing_deadline_wins() -> None:
    recorder = Recorder()
    app = DeadlineMiddleware(recorder, 30.0, clock=lambda: 100.0)
    async with client(app) as http:
        with deadline_after(1.0, clock=lambda: 100.0):
            await http.post("/graphql")
        with deadline_after(60.0, clock=lambda: 100.0):
            await http.post("/graphql")
    assert recorder.seen == [(101.0, 101.0), (130.0, 130.0)]
