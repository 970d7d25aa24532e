"""A real supergraph for the tests: the Guild's composition and Hive Gateway, run by node.

``compose`` asks each subgraph for its ``_service { sdl }`` and composes them with
``@theguild/federation-composition`` (compose.mjs); ``hive_gateway`` serves the result with
``@graphql-hive/gateway`` on a free loopback port, configured by gateway.config.mjs.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import shutil
import socket
from contextlib import asynccontextmanager
from pathlib import Path
from typing import TYPE_CHECKING

import httpx
import pytest

if TYPE_CHECKING:
    from collections.abc import AsyncIterator, Mapping

    from starlette.types import ASGIApp, Receive, Scope, Send

__all__ = ["HERE", "CountedRequests", "compose", "hive_gateway", "node_or_skip"]

HERE = Path(__file__).resolve().parent
READY_TIMEOUT_S = 60
COMPOSE_TIMEOUT_S = 60


def node_or_skip() -> str:
    """The node binary, or a skip: the supergraph tests need node and this folder's packages."""
    node = shutil.which("node")
    if node is None:
        pytest.skip("node is not installed; the supergraph tests need it")
    if not (HERE / "node_modules" / ".bin" / "hive-gateway").exists():
        pytest.skip("tests/federation/node_modules is missing; scripts/install runs npm ci there")
    return node


async def compose(subgraphs: Mapping[str, str], headers: Mapping[str, str]) -> str:
    """The supergraph SDL of ``subgraphs`` (name -> GraphQL URL), each read from its ``_service``."""
    node = node_or_skip()
    described = []
    async with httpx.AsyncClient(timeout=30, headers=dict(headers)) as client:
        for name, url in subgraphs.items():
            response = await client.post(url, json={"query": "{ _service { sdl } }"})
            assert response.status_code == 200, response.text
            sdl = response.json()["data"]["_service"]["sdl"]
            described.append({"name": name, "url": url, "sdl": sdl})
    process = await asyncio.create_subprocess_exec(
        node,
        str(HERE / "compose.mjs"),
        cwd=HERE,
        stdin=asyncio.subprocess.PIPE,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await asyncio.wait_for(
        process.communicate(json.dumps(described).encode()), COMPOSE_TIMEOUT_S
    )
    assert process.returncode == 0, err.decode()
    return out.decode()


class CountedRequests:
    """An ASGI app served as it is, counting the HTTP requests it receives (the router's calls)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app
        self.requests = 0

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            self.requests += 1
        await self.app(scope, receive, send)


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


@asynccontextmanager
async def hive_gateway(supergraph: str, folder: Path) -> AsyncIterator[str]:
    """Hive Gateway serving ``supergraph`` on loopback; yields its GraphQL URL; always stopped."""
    node_or_skip()
    schema_file = folder / "supergraph.graphql"
    schema_file.write_text(supergraph, encoding="utf-8")
    port = _free_port()
    log = (folder / "hive-gateway.log").open("wb")
    process = await asyncio.create_subprocess_exec(
        str(HERE / "node_modules" / ".bin" / "hive-gateway"),
        "supergraph",
        str(schema_file),
        "--config-path",
        str(HERE / "gateway.config.mjs"),
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
        cwd=HERE,
        stdout=log,
        stderr=asyncio.subprocess.STDOUT,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        await _until_ready(base, process, folder / "hive-gateway.log")
        yield f"{base}/graphql"
    finally:
        if process.returncode is None:
            process.terminate()
            try:
                await asyncio.wait_for(process.wait(), 10)
            except TimeoutError:
                process.kill()
                await process.wait()
        log.close()


async def _until_ready(base: str, process: asyncio.subprocess.Process, log: Path) -> None:
    async with httpx.AsyncClient(timeout=2) as client:
        for _ in range(READY_TIMEOUT_S * 10):
            if process.returncode is not None:
                raise _failure("exited", log)
            with contextlib.suppress(httpx.HTTPError):
                if (await client.get(f"{base}/readiness")).status_code == 200:
                    return
            await asyncio.sleep(0.1)
    raise _failure("was not ready", log)


def _failure(what: str, log: Path) -> RuntimeError:
    return RuntimeError(f"hive-gateway {what}:\n{log.read_text(errors='replace')}")
