"""Real servers on loopback for integration tests (style.md habit 15): uvicorn on a free port."""

from __future__ import annotations

import asyncio
from contextlib import asynccontextmanager
from typing import TYPE_CHECKING, Any, Literal

import uvicorn

if TYPE_CHECKING:
    from collections.abc import AsyncIterator

    import httpx
    from starlette.types import ASGIApp

__all__ = ["graphql", "serving"]


@asynccontextmanager
async def serving(app: ASGIApp, *, lifespan: Literal["on", "off"] = "on") -> AsyncIterator[str]:
    """Serve ``app`` on 127.0.0.1 (a free port); yield its base URL; always shut it down."""
    config = uvicorn.Config(app, host="127.0.0.1", port=0, log_level="warning", lifespan=lifespan)
    server = uvicorn.Server(config)
    task = asyncio.create_task(server.serve())
    while not server.started:
        if task.done():
            task.result()
            raise RuntimeError("server exited before it started")
        await asyncio.sleep(0.01)
    port = server.servers[0].sockets[0].getsockname()[1]
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        await task


async def graphql(
    client: httpx.AsyncClient, query: str, variables: dict[str, Any] | None = None, **kwargs: Any
) -> dict[str, Any]:
    """POST one GraphQL request and return the decoded body (any HTTP status)."""
    response = await client.post(
        "/graphql", json={"query": query, "variables": variables or {}}, **kwargs
    )
    body: dict[str, Any] = response.json()
    return body
