"""A scripted TCP peer, a scripted HTTP proxy and a TLS authority, all on 127.0.0.1.

The peer reads one request head (and body, by Content-Length) per reply it scripts, records what
it read, and writes the reply bytes, so framing, reuse and failure are exact. The proxy records
what it is asked, counts CONNECT tunnels and pipes each to one fixed peer (whatever name was
asked for), and answers absolute-form requests itself. Nothing here reaches past loopback.
"""

from __future__ import annotations

import asyncio
import ssl
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import trustme

if TYPE_CHECKING:
    from pathlib import Path

Reply = bytes | Callable[[asyncio.StreamWriter], object] | None
"""Bytes to write; None to close without answering; a callable for anything else."""
Serve = Callable[..., Awaitable["Peer"]]


def ok(body: bytes = b'{"ok":true}', *headers: str) -> bytes:
    extra = "".join(f"{h}\r\n" for h in headers)
    return (
        f"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: {len(body)}\r\n"
        f"{extra}\r\n"
    ).encode() + body


async def read_request(reader: asyncio.StreamReader) -> bytes | None:
    """One request head and its Content-Length body, or None when the client went away."""
    try:
        head = await reader.readuntil(b"\r\n\r\n")
    except (asyncio.IncompleteReadError, asyncio.LimitOverrunError, ConnectionError):
        return None
    length = 0
    for line in head.split(b"\r\n"):
        if line.lower().startswith(b"content-length:"):
            length = int(line.split(b":", 1)[1])
    try:
        body = await reader.readexactly(length) if length else b""
    except (asyncio.IncompleteReadError, ConnectionError):
        return None
    return head + body


@dataclass
class Peer:
    replies: list[Reply]
    """Answers in order, across connections."""
    requests: list[bytes] = field(default_factory=list)
    connections: int = 0
    open_now: int = 0
    most_open: int = 0
    port: int = 0

    async def serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.connections += 1
        self.open_now += 1
        self.most_open = max(self.most_open, self.open_now)
        try:
            while True:
                request = await read_request(reader)
                if request is None:
                    return
                self.requests.append(request)
                reply = self.replies.pop(0) if self.replies else None
                if reply is None:
                    return
                if callable(reply):
                    result = reply(writer)
                    if asyncio.iscoroutine(result):
                        await result
                    continue
                writer.write(reply)
                await writer.drain()
        except (ConnectionError, ssl.SSLError):
            return
        finally:
            self.open_now -= 1
            writer.close()


@dataclass
class ScriptedProxy:
    """An http:// proxy: CONNECT tunnels to ``target_port``; absolute-form requests answered here."""

    target_port: int = 0
    refuse: bytes | None = None
    """A reply to every CONNECT instead of a tunnel (a 407, say)."""
    heads: list[bytes] = field(default_factory=list)
    tunnels: int = 0
    port: int = 0

    async def serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while True:
                request = await read_request(reader)
                if request is None:
                    return
                self.heads.append(request)
                if not request.startswith(b"CONNECT "):
                    writer.write(ok(b'{"via":"proxy"}'))
                    await writer.drain()
                    continue
                if self.refuse is not None:
                    writer.write(self.refuse)
                    await writer.drain()
                    return
                self.tunnels += 1
                upstream_reader, upstream_writer = await asyncio.open_connection(
                    "127.0.0.1", self.target_port
                )
                writer.write(b"HTTP/1.1 200 Connection established\r\n\r\n")
                await writer.drain()
                await asyncio.gather(_pipe(reader, upstream_writer), _pipe(upstream_reader, writer))
                return
        except ConnectionError:
            return
        finally:
            writer.close()


async def _pipe(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    try:
        while data := await reader.read(65536):
            writer.write(data)
            await writer.drain()
    except ConnectionError:
        pass
    finally:
        writer.close()


@dataclass
class Authority:
    """A trustme CA, a server certificate for ``localhost`` and ``upstream.test``, a client's."""

    ca_bundle: Path
    client_pem: Path
    """Certificate and key in one file."""
    client_cert: Path
    client_key: Path
    ca: trustme.CA

    @classmethod
    def create(cls, directory: Path) -> Authority:
        ca = trustme.CA()
        client = ca.issue_cert("gateway@example.test")
        paths = {
            "ca_bundle": directory / "ca.pem",
            "client_pem": directory / "client.pem",
            "client_cert": directory / "client-cert.pem",
            "client_key": directory / "client-key.pem",
        }
        ca.cert_pem.write_to_path(str(paths["ca_bundle"]))
        client.private_key_and_cert_chain_pem.write_to_path(str(paths["client_pem"]))
        client.cert_chain_pems[0].write_to_path(str(paths["client_cert"]))
        client.private_key_pem.write_to_path(str(paths["client_key"]))
        return cls(ca=ca, **paths)

    def server_context(self, *, require_client_cert: bool) -> ssl.SSLContext:
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        self.ca.issue_cert("localhost", "upstream.test").configure_cert(context)
        if require_client_cert:
            context.verify_mode = ssl.CERT_REQUIRED
            self.ca.configure_trust(context)
        return context
