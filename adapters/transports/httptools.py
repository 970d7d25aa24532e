"""An HTTP/1.1 keep-alive client on httptools (llhttp): the engine's default transport.

Why our own: a 20-execution query is 20 upstream calls handled on one core, so the client's CPU
per call sets the fan-out's latency and the gateway's throughput. Measured on the 2-vCPU machine
(docs/performance.md), aiohttp spends about 0.17 ms per call and this client about 0.07 ms. The
parsing is llhttp's (Node's parser, through httptools, which uvicorn already uses); what is ours is
the connection pool and the framing around it, kept to what the engine needs:

- one origin per transport (a source's base URL), HTTP/1.1 with keep-alive, at most
  ``max_connections`` open, idle ones reused newest first;
- TLS from ``TransportOptions.ssl_context`` (trust store or the source's CA bundle, client
  certificate, hostname checked);
- an ``http://`` proxy when ``TransportOptions.proxy_for`` names one: HTTPS through a CONNECT
  tunnel (one per connection, kept alive like any other), plain HTTP in absolute form;
- replies framed by Content-Length, chunked encoding or the connection's close, bodies in
  identity, gzip or deflate, bounded in size (``adapters.transports.base``);
- no redirects, cookies or HTTP/2, which no upstream of ours needs.

A GET whose reused connection turns out to have been closed by the server before any byte of the
reply came is sent once more on a new connection; any other request is never sent twice.
"""

from __future__ import annotations

import asyncio
import ssl
import time
from collections import deque
from typing import TYPE_CHECKING, Any, cast
from urllib.parse import urlsplit

import httptools

from adapters.transports.base import (
    ACCEPT_ENCODING,
    KEEPALIVE_S,
    MAX_HEADER_BYTES,
    RETRY_STALE,
    BodyTooLarge,
    TransportError,
    TransportOptions,
    TransportResponse,
    TransportTimeout,
    check_request,
    decode_body,
    header_lines,
    json_body,
    with_query,
)

if TYPE_CHECKING:
    from collections.abc import Mapping

__all__ = ["HttptoolsTransport"]


class _Exchange(asyncio.Protocol):
    """One connection: sends a request, then reads exactly one reply, then waits idle."""

    def __init__(self, max_body_bytes: int) -> None:
        self._max_body_bytes = max_body_bytes
        self._parser = httptools.HttpResponseParser(self)
        self._transport: asyncio.Transport | None = None
        self._reply: asyncio.Future[TransportResponse] | None = None
        self._headers: dict[str, str] = {}
        self._header_bytes = 0
        self._body: list[bytes] = []
        self._body_bytes = 0
        self._headers_done = False
        self._delimited = True
        self._refusal: TransportError | None = None
        self.received = False
        """Whether any byte of the current reply has come."""
        self.closed = False
        self.idle_since = 0.0

    # -- used by the wire ------------------------------------------------------------------

    def exchange(self, request: bytes) -> asyncio.Future[TransportResponse]:
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
            raise TransportError("the connection closed before the request was sent") from None
        return self._reply

    @property
    def usable(self) -> bool:
        return not self.closed and self._transport is not None and not self._transport.is_closing()

    def close(self) -> None:
        self.closed = True
        if self._transport is not None:
            self._transport.close()

    def expire(self) -> None:
        """The exchange's time is up: the reply fails, and the connection is not reused."""
        self._fail(TransportTimeout("no complete reply in time"))

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
            self._fail(TransportError("the upstream switched protocols"))
        except httptools.HttpParserError as exc:
            self._fail(self._refusal or TransportError(f"unreadable reply: {exc}"))

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
            self._fail(TransportError("the connection closed before the reply was complete"))

    # -- httptools callbacks -----------------------------------------------------------------

    def _refuse(self, error: TransportError) -> None:
        """Stop the parser from a callback: httptools raises HttpParserCallbackError."""
        self._refusal = error
        raise error

    def on_message_begin(self) -> None:
        if self._reply is None:
            self._refuse(TransportError("the upstream sent a second reply"))

    def on_header(self, name: bytes, value: bytes) -> None:
        self._header_bytes += len(name) + len(value) + 4
        if self._header_bytes > MAX_HEADER_BYTES:
            self._refuse(TransportError("reply headers too large"))
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
        if length is not None and length.isdigit() and int(length) > self._max_body_bytes:
            self._refuse(BodyTooLarge("reply body too large"))

    def on_body(self, body: bytes) -> None:
        self._body_bytes += len(body)
        if self._body_bytes > self._max_body_bytes:
            self._refuse(BodyTooLarge("reply body too large"))
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
            body = decode_body(headers.get("content-encoding"), body, self._max_body_bytes)
        except TransportError as exc:
            self.close()
            reply.set_exception(exc)
            return
        reply.set_result(TransportResponse(self._parser.get_status_code(), headers, body))

    def _fail(self, error: TransportError | TransportTimeout) -> None:
        reply = self._reply
        self._reply = None
        self.close()
        if reply is not None and not reply.done():
            reply.set_exception(error)


def _within(connect_timeout_s: float, deadline: float) -> float:
    """The connect timeout, cut to what is left before the exchange's deadline."""
    return max(0.0, min(connect_timeout_s, deadline - asyncio.get_running_loop().time()))


def _expire_waiter(waiter: asyncio.Future[None]) -> None:
    if not waiter.done():
        waiter.set_exception(TransportTimeout("no connection free in time"))


class _TunnelHandshake(asyncio.Protocol):
    """Reads the proxy's answer to CONNECT; the TLS session then starts on the same socket."""

    def __init__(self) -> None:
        self.established: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._buffer = bytearray()

    def data_received(self, data: bytes) -> None:
        if self.established.done():
            return
        self._buffer += data
        end = self._buffer.find(b"\r\n\r\n")
        if end < 0:
            if len(self._buffer) > MAX_HEADER_BYTES:
                self._settle(TransportError("the proxy's reply is too large"))
            return
        status = bytes(self._buffer[: self._buffer.find(b"\r\n")]).split(b" ", 2)
        if len(status) < 2 or not status[0].startswith(b"HTTP/1.") or not status[1].isdigit():
            self._settle(TransportError("the proxy's reply to CONNECT is unreadable"))
        elif not status[1].startswith(b"2"):
            code = status[1].decode("ascii")
            self._settle(TransportError(f"the proxy refused the tunnel: {code}"))
        elif end + 4 != len(self._buffer):
            self._settle(TransportError("the proxy sent bytes before the tunnel was used"))
        else:
            self._settle(None)

    def connection_lost(self, exc: Exception | None) -> None:
        self._settle(TransportError("the proxy closed the connection before the tunnel opened"))

    def _settle(self, error: TransportError | None) -> None:
        if self.established.done():
            return
        if error is None:
            self.established.set_result(None)
        else:
            self.established.set_exception(error)


class HttptoolsTransport:
    """A keep-alive connection pool to one origin, created lazily on the running loop.

    Each ``send`` is bounded by its ``timeout_s`` here, with one timer for the whole exchange
    (waiting for a free connection, connecting, the reply to its last byte), so the engine arms
    none: ``asyncio.timeout`` around every call was 6 % of a 20-execution request's CPU.
    """

    bounds_whole_exchange = True

    def __init__(
        self,
        *,
        base_url: str,
        headers: Mapping[str, str],
        max_connections: int,
        options: TransportOptions | None = None,
    ) -> None:
        options = options or TransportOptions()
        parts = urlsplit(base_url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ValueError(f"not an http(s) URL: {base_url!r}")
        tls = parts.scheme == "https"
        self._host = parts.hostname
        self._port = parts.port or (443 if tls else 80)
        self._ssl: ssl.SSLContext | None = options.ssl_context() if tls else None
        self._max_body_bytes = options.max_body_bytes
        self._prefix = parts.path.rstrip("/")
        default_port = self._port == (443 if tls else 80)
        authority = self._host if ":" not in self._host else f"[{self._host}]"
        if not default_port:
            authority = f"{authority}:{self._port}"
        fixed = {"host": authority, "accept-encoding": ACCEPT_ENCODING, **headers}
        self._proxy = options.proxy_for(base_url)
        self._connect_request = b""
        if self._proxy is not None:
            proxy_headers = {"host": f"{authority}:{self._port}" if default_port else authority}
            if self._proxy.authorization:
                proxy_headers["proxy-authorization"] = self._proxy.authorization
            if tls:  # a CONNECT tunnel per connection: the proxy sees only the origin's name
                self._connect_request = (
                    f"CONNECT {proxy_headers['host']} HTTP/1.1\r\n".encode("ascii")
                    + header_lines(proxy_headers)
                    + b"\r\n"
                )
            else:  # plain HTTP: requests go to the proxy in absolute form
                self._prefix = f"http://{authority}{self._prefix}"
                if self._proxy.authorization:
                    fixed["proxy-authorization"] = self._proxy.authorization
        self._fixed_lines = header_lines(fixed)
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
    ) -> TransportResponse:
        request = self._request_bytes(method, path, params, json, headers)
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout_s
        connection, reused = await self._acquire(connect_timeout_s, deadline)
        try:
            response = await self._exchange(connection, request, deadline)
        except TransportError:
            self._discard(connection)
            if not (reused and not connection.received and method in RETRY_STALE):
                raise
            # The server closed a kept-alive connection as we reused it: that is no answer.
            connection = await self._connect(_within(connect_timeout_s, deadline))
            try:
                response = await self._exchange(connection, request, deadline)
            except BaseException:
                self._discard(connection)
                raise
        except BaseException:
            # Timed out or cancelled mid-exchange: the connection's state is unknown.
            self._discard(connection)
            raise
        self._release(connection)
        return response

    @staticmethod
    async def _exchange(
        connection: _Exchange, request: bytes, deadline: float
    ) -> TransportResponse:
        reply = connection.exchange(request)
        timer = asyncio.get_running_loop().call_at(deadline, connection.expire)
        try:
            return await reply
        finally:
            timer.cancel()

    async def aclose(self) -> None:
        self._closed = True
        for connection in self._idle:
            connection.close()
        self._idle.clear()
        for waiter in self._waiters:
            if not waiter.done():
                waiter.set_exception(TransportError("the client is closed"))
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
        check_request(method, target, None)
        head = [f"{method} {target} HTTP/1.1\r\n".encode("ascii"), self._fixed_lines]
        if headers:
            head.append(header_lines(headers))
        if json is None:
            if method in ("POST", "PUT", "PATCH"):
                head.append(b"content-length: 0\r\n")
            head.append(b"\r\n")
            return b"".join(head)
        body = json_body(json)
        head.append(b"content-type: application/json\r\ncontent-length: %d\r\n\r\n" % len(body))
        head.append(body)
        return b"".join(head)

    # -- the pool --------------------------------------------------------------------------------

    async def _acquire(self, connect_timeout_s: float, deadline: float) -> tuple[_Exchange, bool]:
        """An idle connection (newest first) or a new one, waiting while all are busy (until
        ``deadline``, on the loop's clock)."""
        loop = asyncio.get_running_loop()
        while True:
            if self._closed:
                raise TransportError("the client is closed")
            now = time.monotonic()
            while self._idle:
                connection = self._idle.pop()
                if connection.usable and now - connection.idle_since < KEEPALIVE_S:
                    return connection, True
                self._discard(connection)
            if self._open < self._max_connections:
                return await self._connect(_within(connect_timeout_s, deadline)), False
            waiter = loop.create_future()
            self._waiters.append(waiter)
            timer = loop.call_at(deadline, _expire_waiter, waiter)
            try:
                await waiter
            except BaseException:
                if waiter.done() and not waiter.cancelled() and waiter.exception() is None:
                    self._wake_next()  # pass on the turn we were given but will not use
                raise
            finally:
                timer.cancel()

    async def _connect(self, connect_timeout_s: float) -> _Exchange:
        self._open += 1
        try:
            async with asyncio.timeout(connect_timeout_s):
                connection = await self._open_connection()
        except TimeoutError:
            self._open -= 1
            self._wake_next()
            raise TransportTimeout("connect timeout") from None
        except (OSError, ssl.SSLError) as exc:
            self._open -= 1
            self._wake_next()
            raise TransportError(f"connect failed: {type(exc).__name__}: {exc}") from exc
        except BaseException:  # a refused tunnel (TransportError), or cancelled
            self._open -= 1
            self._wake_next()
            raise
        return connection

    async def _open_connection(self) -> _Exchange:
        loop = asyncio.get_running_loop()

        def exchange() -> _Exchange:
            return _Exchange(self._max_body_bytes)

        if self._proxy is None:
            _, connection = await loop.create_connection(
                exchange, self._host, self._port, ssl=self._ssl
            )
            return connection
        if self._ssl is None:
            _, connection = await loop.create_connection(
                exchange, self._proxy.host, self._proxy.port
            )
            return connection
        raw, handshake = await loop.create_connection(
            _TunnelHandshake, self._proxy.host, self._proxy.port
        )
        try:
            raw.write(self._connect_request)
            await handshake.established
            connection = exchange()
            tls = await loop.start_tls(raw, connection, self._ssl, server_hostname=self._host)
        except BaseException:
            raw.close()
            raise
        if tls is None:  # typeshed allows it; asyncio returns None only once the loop is closing
            raise TransportError("the TLS session through the proxy did not start")
        connection.connection_made(tls)
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
