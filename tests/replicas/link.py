"""A TCP link to a server that a test can cut and restore: one replica's way to Redis, so that one
replica alone loses Redis while the others keep it."""

from __future__ import annotations

import asyncio
import contextlib
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from collections.abc import AsyncIterator

__all__ = ["Link", "link_to"]


class Link:
    def __init__(self, host: str, port: int) -> None:
        self._target = (host, port)
        self._server: asyncio.Server | None = None
        self._pipes: set[asyncio.StreamWriter] = set()
        self.port = 0

    async def open(self) -> None:
        self._server = await asyncio.start_server(self._pipe, "127.0.0.1", self.port)
        self.port = self._server.sockets[0].getsockname()[1]

    async def cut(self) -> None:
        """Close every connection and refuse new ones (the port stays this link's)."""
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()
            self._server = None
        for writer in list(self._pipes):
            writer.close()
        self._pipes.clear()

    async def _pipe(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            target_reader, target_writer = await asyncio.open_connection(*self._target)
        except OSError:
            writer.close()
            return
        self._pipes.update((writer, target_writer))

        async def forward(source: asyncio.StreamReader, sink: asyncio.StreamWriter) -> None:
            with contextlib.suppress(OSError, ConnectionError):
                while data := await source.read(65536):
                    sink.write(data)
                    await sink.drain()
            sink.close()

        await asyncio.gather(forward(reader, target_writer), forward(target_reader, writer))


@contextlib.asynccontextmanager
async def link_to(url: str) -> AsyncIterator[tuple[Link, str]]:
    """A link to the Redis at ``url`` (``redis://host:port/db``), and the URL that goes through it."""
    address, _, database = url.removeprefix("redis://").partition("/")
    host, _, port = address.rpartition(":")
    link = Link(host, int(port))
    await link.open()
    try:
        yield link, f"redis://127.0.0.1:{link.port}/{database}"
    finally:
        await link.cut()
