"""The HTTP/1.1 connection limits uvicorn lacks, added to its own protocols.

uvicorn is kept (its lifespan, graceful shutdown, workers and logging are what the gateway is
built on). Its protocols do not bound what a connection may cost before a request exists: the
httptools one buffers any size of header (40 anonymous 10 MiB headers grew the process by
400 MiB; one 64 MiB header stalled the loop 4 s), and neither times out a slow client.
``GuardedHttpToolsProtocol`` (the default: llhttp, the faster parser) and ``GuardedH11Protocol``
(``server.http_parser = "h11"``) add the same guards:

- **Header size.** httptools: the bytes of a header block still open are counted, and past
  ``max_header_bytes`` (plus at most one read) the answer is 431 and the connection is closed;
  h11 refuses the block itself past ``h11_max_incomplete_event_size``.
- **Idle before the first request.** uvicorn arms its keep-alive timeout only after a response,
  so a connection that never sends a byte stayed open forever; here it gets the same timeout.
- **Slow headers.** From a request's first byte, its header block must be in within
  ``header_timeout_s``, else 408 and the connection is closed.
- **Slow bodies.** Once the headers are in, the body must be in within ``body_timeout_s``, else
  the connection is closed (the application sees a disconnect).
- **Connections.** Past ``max_connections`` open at once, a new connection gets 503 and is closed.
- **Shutdown with open streams.** uvicorn asks each connection to shut down, then waits up to its
  grace for them to close, and only then runs the lifespan's shutdown: an SSE or multipart
  subscription would hold the process for the whole grace and be cut. So the first connection
  asked tells the app's live hub (``announce_shutdown``), which ends every subscription with a
  final ``SHUTTING_DOWN`` message; the streams finish and their connections close at once.
  (WebSockets get uvicorn's own close, code 1012, service restart.)

How many headers a request may carry is ``HeaderCountMiddleware``'s job (431). The same tests run
against a real server process with each parser. docs/deployment.md says what a reverse proxy in
front adds.
"""

from __future__ import annotations

import functools
import json
from typing import TYPE_CHECKING, Any, cast

import h11
from uvicorn.protocols.http.h11_impl import H11Protocol
from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

from gateway.config import ConnectionLimits
from gateway.http.guards import send_error

if TYPE_CHECKING:
    import asyncio

    from starlette.types import ASGIApp, Receive, Scope, Send
    from uvicorn.config import Config
    from uvicorn.server import ServerState

__all__ = [
    "DEFAULT_LIMITS",
    "HTTP_PARSERS",
    "MAX_APP_WRAPPERS",
    "ConnectionLimits",
    "GuardedH11Protocol",
    "GuardedHttpToolsProtocol",
    "HeaderCountMiddleware",
    "announce_shutdown",
    "guarded_protocol",
]


DEFAULT_LIMITS = ConnectionLimits()
"""The ``[server]`` defaults, defined once in gateway.config.server."""

_FINISHED = (h11.DONE, h11.MUST_CLOSE, h11.CLOSED, h11.ERROR, h11.SWITCHED_PROTOCOL)


def _raw_error(status: int, reason: str, message: str, *extra: bytes) -> bytes:
    """A whole HTTP/1.1 response, written before (or instead of) h11 parsing a request."""
    body = json.dumps(
        {"errors": [{"message": message, "extensions": {"code": "BAD_USER_INPUT"}}]}
    ).encode()
    head = [
        f"HTTP/1.1 {status} {reason}".encode(),
        b"content-type: application/json",
        b"content-length: " + str(len(body)).encode(),
        b"connection: close",
        *extra,
    ]
    return b"\r\n".join(head) + b"\r\n\r\n" + body


_TOO_MANY_CONNECTIONS = _raw_error(
    503,
    "Service Unavailable",
    "This gateway has as many connections open as it accepts (server.max_connections).",
    b"retry-after: 1",
)
_HEADERS_TOO_SLOW = _raw_error(
    408,
    "Request Timeout",
    "The request headers did not arrive in time (server.header_timeout_s).",
)


class _ReadTimer:
    """A connection's one read deadline: for its headers, then for its body."""

    __slots__ = ("_handle", "_loop")

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self._loop = loop
        self._handle: asyncio.TimerHandle | None = None

    @property
    def running(self) -> bool:
        return self._handle is not None

    def start(self, seconds: float, transport: asyncio.Transport, answer: bytes | None) -> None:
        """Past ``seconds``, write ``answer`` (if any) and close the connection."""
        self.stop()
        self._handle = self._loop.call_later(seconds, self._expire, transport, answer)

    def stop(self) -> None:
        if self._handle is not None:
            self._handle.cancel()
            self._handle = None

    def _expire(self, transport: asyncio.Transport, answer: bytes | None) -> None:
        self._handle = None
        if not transport.is_closing():
            if answer is not None:
                transport.write(answer)
            transport.close()


MAX_APP_WRAPPERS = 8
"""How deep ``announce_shutdown`` looks under uvicorn's wrappers (proxy headers, logging)."""


def announce_shutdown(app: object) -> None:
    """Tell the served app's live hub (``app.state.live``, under uvicorn's wrappers, each of
    which holds the next as ``app``) that the server is shutting down; a repeat is harmless."""
    for _ in range(MAX_APP_WRAPPERS):
        listener = getattr(getattr(app, "state", None), "live", None)
        shutting_down = getattr(listener, "shutting_down", None)
        if callable(shutting_down):
            shutting_down()
            return
        app = getattr(app, "app", None)
        if app is None:
            return


def _admit(protocol: H11Protocol | HttpToolsProtocol, limits: ConnectionLimits) -> None:
    """The connection cap, and the idle timeout from the start, not only between requests."""
    if len(protocol.connections) > limits.max_connections:
        protocol.transport.write(_TOO_MANY_CONNECTIONS)
        protocol.transport.close()
        return
    protocol.timeout_keep_alive_task = protocol.loop.call_later(
        protocol.timeout_keep_alive, protocol.timeout_keep_alive_handler
    )


class GuardedH11Protocol(H11Protocol):
    """uvicorn's h11 protocol with the timeouts and the connection cap in the module docstring."""

    def __init__(
        self,
        config: Config,
        server_state: ServerState,
        app_state: dict[str, Any],
        _loop: asyncio.AbstractEventLoop | None = None,
        *,
        limits: ConnectionLimits = DEFAULT_LIMITS,
    ) -> None:
        super().__init__(config, server_state, app_state, _loop)
        self.limits = limits
        self.timeout_keep_alive = limits.keep_alive_timeout_s  # type: ignore[assignment]
        self._timer = _ReadTimer(self.loop)
        self._reading_body = False

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        _admit(self, self.limits)

    def connection_lost(self, exc: Exception | None) -> None:
        self._timer.stop()
        super().connection_lost(exc)

    def shutdown(self) -> None:
        announce_shutdown(self.app)
        super().shutdown()

    def data_received(self, data: bytes) -> None:
        if not self._timer.running and self.conn.their_state is h11.IDLE:
            self._reading_body = False
            self._timer.start(self.limits.header_timeout_s, self.transport, _HEADERS_TOO_SLOW)
        super().data_received(data)
        state = self.conn.their_state
        if state in _FINISHED:
            self._timer.stop()
        elif state is h11.SEND_BODY and not self._reading_body:
            self._timer.start(self.limits.body_timeout_s, self.transport, None)
            self._reading_body = True

    def on_response_complete(self) -> None:
        self._timer.stop()
        self._reading_body = False
        super().on_response_complete()


_HEADERS_TOO_LARGE = _raw_error(
    431,
    "Request Header Fields Too Large",
    "The request line and headers are larger than this gateway accepts (server.max_header_bytes).",
)


class GuardedHttpToolsProtocol(HttpToolsProtocol):
    """uvicorn's httptools protocol (llhttp, the faster parser) with the same guards as
    ``GuardedH11Protocol``, and the header-size bound h11 has and httptools lacks: the bytes
    received while a request's header block is still open are counted, and past
    ``max_header_bytes`` (plus at most one read) the connection gets 431 and is closed."""

    def __init__(
        self,
        config: Config,
        server_state: ServerState,
        app_state: dict[str, Any],
        _loop: asyncio.AbstractEventLoop | None = None,
        *,
        limits: ConnectionLimits = DEFAULT_LIMITS,
    ) -> None:
        super().__init__(config, server_state, app_state, _loop)
        self.limits = limits
        self.timeout_keep_alive = limits.keep_alive_timeout_s  # type: ignore[assignment]
        self._timer = _ReadTimer(self.loop)
        self._in_headers = False
        self._header_bytes = 0

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        _admit(self, self.limits)

    def connection_lost(self, exc: Exception | None) -> None:
        self._timer.stop()
        super().connection_lost(exc)

    def shutdown(self) -> None:
        announce_shutdown(self.app)
        super().shutdown()

    def data_received(self, data: bytes) -> None:
        idle = self.cycle is None or self.cycle.response_complete
        if not self._in_headers and not self._timer.running and idle:
            self._in_headers = True
            self._header_bytes = 0
            self._timer.start(self.limits.header_timeout_s, self.transport, _HEADERS_TOO_SLOW)
        if self._in_headers:
            self._header_bytes += len(data)
        super().data_received(data)
        if self._in_headers and self._header_bytes > self.limits.max_header_bytes:
            self._timer.stop()
            if not self.transport.is_closing():
                self.transport.write(_HEADERS_TOO_LARGE)
                self.transport.close()

    def on_headers_complete(self) -> None:
        self._in_headers = False
        self._timer.start(self.limits.body_timeout_s, self.transport, None)
        super().on_headers_complete()

    def on_message_complete(self) -> None:
        self._timer.stop()
        super().on_message_complete()


HTTP_PARSERS = ("httptools", "h11")


def guarded_protocol(limits: ConnectionLimits, parser: str = "httptools") -> type[asyncio.Protocol]:
    """uvicorn's ``http`` option for these limits.

    uvicorn only calls what it is given with its three arguments, so a partial serves; being a
    partial of a module-level class, it also pickles into ``--workers`` processes.
    """
    protocol = GuardedHttpToolsProtocol if parser == "httptools" else GuardedH11Protocol
    return cast("type[asyncio.Protocol]", functools.partial(protocol, limits=limits))


class HeaderCountMiddleware:
    """431 for a request with more than ``max_headers`` header lines, before anything reads them."""

    def __init__(self, app: ASGIApp, max_headers: int) -> None:
        self.app = app
        self.max_headers = max_headers

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and len(scope["headers"]) > self.max_headers:
            await send_error(
                send,
                431,
                f"The request has {len(scope['headers'])} headers; this gateway accepts at most "
                f"{self.max_headers} (server.max_headers).",
                "BAD_USER_INPUT",
                limit="max_headers",
                allowed=self.max_headers,
            )
            return
        await self.app(scope, receive, send)
