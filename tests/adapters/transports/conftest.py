"""Fixtures for the transport tests: scripted peers and proxies on 127.0.0.1, torn down after."""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING

import pytest

from tests.adapters.transports.peer import Authority, Peer, Reply, ScriptedProxy

if TYPE_CHECKING:
    import ssl
    from collections.abc import AsyncIterator, Awaitable, Callable

    from tests.adapters.transports.peer import Serve

    Handler = Callable[[asyncio.StreamReader, asyncio.StreamWriter], Awaitable[None]]


class Servers:
    """Loopback servers whose every connection and handler is closed when the test ends."""

    def __init__(self) -> None:
        self._servers: list[asyncio.Server] = []
        self._writers: list[asyncio.StreamWriter] = []
        self._tasks: set[asyncio.Task[object]] = set()

    async def start(self, handler: Handler, *, tls: ssl.SSLContext | None = None) -> int:
        async def tracked(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            self._writers.append(writer)
            task = asyncio.current_task()
            if task is not None:
                self._tasks.add(task)
            await handler(reader, writer)

        server = await asyncio.start_server(tracked, "127.0.0.1", 0, ssl=tls)
        self._servers.append(server)
        port: int = server.sockets[0].getsockname()[1]
        return port

    async def close(self) -> None:
        for server in self._servers:
            server.close()
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        for writer in self._writers:
            writer.close()
        await asyncio.sleep(0)  # let the closed transports let go of their sockets


@pytest.fixture
async def servers() -> AsyncIterator[Servers]:
    started = Servers()
    yield started
    await started.close()


@pytest.fixture
def serve(servers: Servers) -> Serve:
    async def start(replies: list[Reply], *, tls: ssl.SSLContext | None = None) -> Peer:
        peer = Peer(list(replies))
        peer.port = await servers.start(peer.serve, tls=tls)
        return peer

    return start


@pytest.fixture
def proxy(servers: Servers) -> Callable[..., Awaitable[ScriptedProxy]]:
    async def start(target: Peer | None = None, *, refuse: bytes | None = None) -> ScriptedProxy:
        scripted = ScriptedProxy(target_port=target.port if target else 0, refuse=refuse)
        scripted.port = await servers.start(scripted.serve)
        return scripted

    return start


@pytest.fixture(scope="module")
def authority(tmp_path_factory: pytest.TempPathFactory) -> Authority:
    return Authority.create(tmp_path_factory.mktemp("tls"))
