"""Real servers on loopback for integration tests (style.md habit 15): uvicorn on a free port."""

from __future__ import annotations

import asyncio
from contextlib import asynccontextmanager
from typing import TYPE_CHECKING, Any, Literal

import httpx
import uvicorn

if TYPE_CHECKING:
    from collections.abc import AsyncIterator

    from starlette.types import ASGIApp

    from gateway.config import GatewayConfig

__all__ = ["demo_config_with", "gateway_client", "graphql", "serving"]


def demo_config_with(
    sandbox_url: str, env: dict[str, str] | None = None, **sections: Any
) -> GatewayConfig:
    """The demo config with sections merged in; ``sources={"rv": {...}}`` merges per source."""
    from gateway.config import parse_config
    from gateway.demo import demo_raw_config

    raw, demo_env = demo_raw_config(sandbox_url)
    for section, values in sections.items():
        if section == "sources":
            for source in raw["sources"]:
                source.update(values.get(source["name"], {}))
        else:
            raw.setdefault(section, {}).update(values)
    return parse_config(raw, {**demo_env, **(env or {})})


@asynccontextmanager
async def serving(
    app: ASGIApp, *, lifespan: Literal["on", "off"] = "on", port: int = 0
) -> AsyncIterator[str]:
    """Serve ``app`` on 127.0.0.1 (a free port, or ``port`` when the app must know its URL
    first); yield its base URL; always shut it down."""
    from tests.secret_scan import scan_responses

    config = uvicorn.Config(
        scan_responses(app), host="127.0.0.1", port=port, log_level="warning", lifespan=lifespan
    )
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


async def metric(client: httpx.AsyncClient, name: str) -> float:
    """One sample of the gateway's ``/metrics``, by its full name (``..._total``), unlabelled."""
    text = (await client.get("/metrics")).text
    for line in text.splitlines():
        if line.startswith(name + " "):
            return float(line.split()[1])
    raise AssertionError(f"no {name} in /metrics")


@asynccontextmanager
async def gateway_client(
    sandbox_url: str, *, env: dict[str, str] | None = None, **sections: dict[str, Any]
) -> AsyncIterator[httpx.AsyncClient]:
    """The demo gateway in front of ``sandbox_url``, with config sections merged over the demo's.

    ``sources={"rv": {...}}`` merges keys into the named source instead of replacing the list.
    """
    from gateway.http.app import create_app

    async with (
        serving(create_app(demo_config_with(sandbox_url, env, **sections))) as url,
        httpx.AsyncClient(base_url=url, timeout=30) as client,
    ):
        yield client
