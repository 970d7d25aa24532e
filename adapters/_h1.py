"""An HTTP/1.1 keep-alive client on httptools (llhttp): the engine's default wire.

Why our own: a 20-execution query is 20 upstream calls handled on one core, so the client's CPU
per call sets the fan-out's latency and the gateway's throughput. Measured on the 2-vCPU machine
(docs/performance.md), aiohttp spends about 0.17 ms per call and this wire about 0.07 ms. The
parsing is llhttp's (Node's parser, through httptools, which uvicorn already uses); what is ours is
the connection pool and the framing around it, kept to what the engine needs:

- one origin per wire (a source's base URL), HTTP/1.1 with keep-alive, at most
  ``max_connections`` open, idle ones reused newest first;
- TLS from the standard library's default context (system trust store, hostname checked);
- replies framed by Content-Length, chunked encoding or the connection's close, bodies in
  identity, gzip or deflate, bounded in size;
- no redirects, cookies, proxies or HTTP/2, which no upstream of ours needs.

A GET whose reused connection turns out to have been closed by the server before any byte of the
reply came is sent once more on a new connection; any other request is never sent twice.
"""

from __future__ import annotations

import asyncio
import json as std_json
import re
import ssl
import time
import zlib
from collections import deque
from typing import TYPE_CHECKING, Any, cast
from urllib.parse import urlsplit

import httptools

from adapters._wire import WireError, WireResponse, WireTimeout, with_query

if TYPE_CHECKING:
    from collections.abc import Mapping

__all__ = ["MAX_BODY_BYTES", "MAX_HEADER_BYTES", "H1Wire"]

MAX_BODY_BYTES = 32 * 1024 * 1024
"""A reply body larger than this (after decompression) is refused, not buffered."""
MAX_HEADER_BYTES = 64 * 1024
KEEPALIVE_S = 30.0
"""An idle connection older than this is closed rather than reused."""

_TOKEN = re.compile(r"[!#$%&'*+\-.^_`|~0-9A-Za-z]+")
_FORBIDDEN_IN_VALUE = re.compile(r"[\x00\r\n]")
_UNSAFE_IN_TARGET = re.compile(r"[^\x21-\x7e]")
_RETRY_STALE = frozenset({"GET", "HEAD", "OPTIONS"})


def _header_lines(headers: Mapping[str, str]) -> bytes:
    """``name: value`` lines, refusing anything that could split the request (CR, LF, NUL)."""
    lines = []
    for name, value in headers.items():
        if not _TOKEN.fullmatch(name) or _FORBIDDEN_IN_VALUE.search(value):
            raise WireError(f"invalid request header {name!r}")
        try:
            lines.append(f"{name}: {value}\r\n".encode("latin-1"))
        except UnicodeEncodeError:
            raise WireError(f"request header {name!r} is not Latin-1") from None
    return b"".join(lines)


class _Exchange(asyncio.Protocol):
    """One connection: sends a request, then reads exactly one reply, then waits idle."""

    def __init__(self) -> None:
        self._parser = httptools.HttpResponseParser(self)
        self._transport: asyncio.Transport | None = None
        self._reply: asyncio.Future[WireResponse] | None = None
        self._headers: dict[str, str] = {}
        self._header_bytes = 0
        self._body: list[bytes] = []
        self._body_bytes = 0
        self._headers_done = False
        self._delimited = True
        self._refusal: str | None = None
        self.received = False
        """Whether any byte of the current reply has come."""
        self.closed = False
        self.idle_since = 0.0

    # -- used by the wire ------------------------------------------------------------------

    def exchange(self, request: bytes) -> asyncio.Future[WireResponse]:
        assert self._transport is not None
        assert self._reply is None
        self._headers = {}
        self._header_bytes = 0
        self._body = []
        self._body_bytes = 0
        self._headers_done = False
        self._delimited = True
        self._refusal = None
        self.received = False
        self._reply = asyncio.get_running_loop().create_future()
        try:
            self._transport.write(request)
        except (RuntimeError, OSError):  # the transport closed under us (uvloop raises)
            self._reply = None
            self.close()
            raise WireError("the connection closed before the request was sent") from None
        return self._reply

    @property
    def usable(self) -> bool:
        return not self.closed and self._transport is not None and not self._transport.is_closing()

    def close(self) -> None:
        self.closed = True
        if self._transport is not None:
            self._transport.close()

    # -- asyncio.Protocol --------------------------------------------------------------------

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self._transport = cast("asyncio.Transport", transport)  # uvloop's isn't a subclass

    def data_received(self, data: bytes) -> None:
        if self._reply is None:  # bytes nobody asked for: the connection can't be trusted
            self.close()
            return
        self.received = True
        try:
            self._parser.feed_data(data)
        except httptools.HttpParserUpgrade:
            self._fail(WireError("the upstream switched protocols"))
        except httptools.HttpParserError as exc:
            self._fail(WireError(self._refusal or f"unreadable reply: {exc}"))

    def eof_received(self) -> bool:
        self.closed = True  # not to be handed out again
        return False  # close our side too; connection_lost follows

    def connection_lost(self, exc: Exception | None) -> None:
        self.closed = True
        if self._reply is None or self._reply.done():
            return
        if self._headers_done and not self._delimited:
            self._finish()  # the body ran to the close, as the reply announced
        else:
            self._fail(WireError("the connection closed before the reply was complete"))

    # -- httptools callbacks -----------------------------------------------------------------

    def _refuse(self, why: str) -> None:
        """Stop the parser from a callback: httptools raises HttpParserCallbackError."""
        self._refusal = why
        raise WireError(why)

    def on_message_begin(self) -> None:
        if self._reply is None:
            self._refuse("the upstream sent a second reply")

    def on_header(self, name: bytes, value: bytes) -> None:
        self._header_bytes += len(name) + len(value) + 4
        if self._header_bytes > MAX_HEADER_BYTES:
            self._refuse("reply headers too large")
        key = name.decode("latin-1").lower()
        text = value.decode("latin-1")
        prior = self._headers.get(key)
        self._headers[key] = text if prior is None else f"{prior}, {text}"

    def on_headers_complete(self) -> None:
        self._headers_done = True
        headers = self._headers
        self._delimited = "content-length" in headers or "chunked" in headers.get(
            "transfer-encoding", ""
        )
        length = headers.get("content-length")
        if length is not None and length.isdigit() and int(length) > MAX_BODY_BYTES:
            self._refuse("reply body too large")

    def on_body(self, body: bytes) -> None:
        self._body_bytes += len(body)
        if self._body_bytes > MAX_BODY_BYTES:
            self._refuse("reply body too large")
        self._body.append(body)

    def on_message_complete(self) -> None:
        status = self._parser.get_status_code()
        if 100 <= status < 200:  # an interim reply (100 Continue, 103): the real one follows
            self._headers = {}
            self._header_bytes = 0
            self._headers_done = False
            return
        keep_alive = self._parser.should_keep_alive()
        self._finish()
        if not keep_alive:
            self.close()

    # -- ending a reply ----------------------------------------------------------------------

    def _finish(self) -> None:
        reply = self._reply
        if reply is None or reply.done():
            return
        self._reply = None
        body = b"".join(self._body) if len(self._body) != 1 else self._body[0]
        headers = self._headers
        self._body = []
        self._headers = {}
        try:
            body = _decode_body(headers.get("content-encoding"), body)
        except WireError as exc:
            self.close()
            reply.set_exception(exc)
            return
        reply.set_result(WireResponse(self._parser.get_status_code(), headers, body))

    def _fail(self, error: WireError) -> None:
        reply = self._reply
        self._reply = None
        self.close()
        if reply is not None and not reply.done():
            reply.set_exception(error)


def _decode_body(encoding: str | None, body: bytes) -> bytes:
    """Undo gzip or deflate, bounded so a small compressed body can't expand without limit."""
    if not encoding or encoding == "identity" or not body:
        return body
    encoding = encoding.strip().lower()
    if encoding in ("gzip", "x-gzip"):
        wbits = 16 + zlib.MAX_WBITS
    elif encoding == "deflate":  # zlib-wrapped as the RFC says, or raw as some servers send
        wbits = zlib.MAX_WBITS if body[0] & 0x0F == 8 else -zlib.MAX_WBITS
    else:
        raise WireError(f"unsupported content-encoding {encoding!r}")
    inflater = zlib.decompressobj(wbits)
    try:
        out = inflater.decompress(body, MAX_BODY_BYTES + 1)
    except zlib.error as exc:
        raise WireError(f"unreadable {encoding} body: {exc}") from None
    if len(out) > MAX_BODY_BYTES or inflater.unconsumed_tail:
        raise WireError("reply body too large")
    return out


class H1Wire:
    """A keep-alive connection pool to one origin, created lazily on the running loop."""

    def __init__(
        self,
        *,
        base_url: str,
        headers: Mapping[str, str],
        max_connections: int,
        ssl_context: ssl.SSLContext | None = None,
    ) -> None:
        parts = urlsplit(base_url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ValueError(f"not an http(s) URL: {base_url!r}")
        tls = parts.scheme == "https"
        self._host = parts.hostname
        self._port = parts.port or (443 if tls else 80)
        self._ssl: ssl.SSLContext | None = (
            (ssl_context or ssl.create_default_context()) if tls else None
        )
        self._prefix = parts.path.rstrip("/")
        default_port = self._port == (443 if tls else 80)
        authority = self._host if ":" not in self._host else f"[{self._host}]"
        if not default_port:
            authority = f"{authority}:{self._port}"
        fixed = {"host": authority, "accept-encoding": "gzip, deflate", **headers}
        self._fixed_lines = _header_lines(fixed)
        self._max_connections = max(1, max_connections)
        self._idle: list[_Exchange] = []
        self._open = 0
        self._waiters: deque[asyncio.Future[None]] = deque()
        self._closed = False

    async def send(
        self,
        method: str,
        path: str,
        *,
        params: Mapping[str, Any] | None,
        json: Any,
        headers: Mapping[str, str] | None,
        timeout_s: float,
        connect_timeout_s: float,
    ) -> WireResponse:
        request = self._request_bytes(method, path, params, json, headers)
        connection, reused = await self._acquire(connect_timeout_s)
        try:
            response = await connection.exchange(request)
        except WireError:
            self._discard(connection)
            if not (reused and not connection.received and method in _RETRY_STALE):
                raise
            # The server closed a kept-alive connection as we reused it: that is no answer.
            connection = await self._connect(connect_timeout_s)
            try:
                response = await connection.exchange(request)
            except BaseException:
                self._discard(connection)
                raise
        except BaseException:
            self._discard(connection)  # cancelled mid-exchange: the connection's state is unknown
            raise
        self._release(connection)
        return response

    async def aclose(self) -> None:
        self._closed = True
        for connection in self._idle:
            connection.close()
        self._idle.clear()
        for waiter in self._waiters:
            if not waiter.done():
                waiter.set_exception(WireError("the client is closed"))
        self._waiters.clear()

    # -- building the request ------------------------------------------------------------------

    def _request_bytes(
        self,
        method: str,
        path: str,
        params: Mapping[str, Any] | None,
        json: Any,
        headers: Mapping[str, str] | None,
    ) -> bytes:
        # The path is percent-encoded by the engine (encode_segment).
        target = with_query(self._prefix + path, params)
        if not _TOKEN.fullmatch(method) or _UNSAFE_IN_TARGET.search(target):
            raise WireError("invalid request line")
        head = [f"{method} {target} HTTP/1.1\r\n".encode("ascii"), self._fixed_lines]
        if headers:
            head.append(_header_lines(headers))
        if json is None:
            if method in ("POST", "PUT", "PATCH"):
                head.append(b"content-length: 0\r\n")
            head.append(b"\r\n")
            return b"".join(head)
        body = std_json.dumps(json, separators=(",", ":"), ensure_ascii=False).encode()
        head.append(b"content-type: application/json\r\ncontent-length: %d\r\n\r\n" % len(body))
        head.append(body)
        return b"".join(head)

    # -- the pool --------------------------------------------------------------------------------

    async def _acquire(self, connect_timeout_s: float) -> tuple[_Exchange, bool]:
        """An idle connection (newest first) or a new one, waiting while all are busy."""
        while True:
            if self._closed:
                raise WireError("the client is closed")
            now = time.monotonic()
            while self._idle:
                connection = self._idle.pop()
                if connection.usable and now - connection.idle_since < KEEPALIVE_S:
                    return connection, True
                self._discard(connection)
            if self._open < self._max_connections:
                return await self._connect(connect_timeout_s), False
            waiter = asyncio.get_running_loop().create_future()
            self._waiters.append(waiter)
            try:
                await waiter
            except BaseException:
                if waiter.done() and not waiter.cancelled():
                    self._wake_next()  # pass on the turn we were given but will not use
                raise

    async def _connect(self, connect_timeout_s: float) -> _Exchange:
        self._open += 1
        try:
            async with asyncio.timeout(connect_timeout_s):
                _, connection = await asyncio.get_running_loop().create_connection(
                    _Exchange, self._host, self._port, ssl=self._ssl
                )
        except TimeoutError:
            self._open -= 1
            self._wake_next()
            raise WireTimeout("connect timeout") from None
        except (OSError, ssl.SSLError) as exc:
            self._open -= 1
            self._wake_next()
            raise WireError(f"connect failed: {type(exc).__name__}: {exc}") from exc
        except BaseException:
            self._open -= 1
            self._wake_next()
            raise
        return connection

    def _release(self, connection: _Exchange) -> None:
        if connection.closed or self._closed:
            self._discard(connection)
            return
        connection.idle_since = time.monotonic()
        self._idle.append(connection)
        self._wake_next()

    def _discard(self, connection: _Exchange) -> None:
        connection.close()
        self._open -= 1
        self._wake_next()

    def _wake_next(self) -> None:
        while self._waiters:
            waiter = self._waiters.popleft()
            if not waiter.done():
                waiter.set_result(None)
                return
