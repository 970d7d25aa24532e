"""What only the httptools transport has: its pool, its parser's edges, its request bytes.

What every transport must do alike is in ``test_conformance.py``; both use the scripted peer of
``tests/adapters/transports/peer.py`` (the ``serve`` fixture).
"""

from __future__ import annotations

import asyncio
import gzip
import ssl
import zlib
from typing import TYPE_CHECKING

import pytest
import trustme

from adapters.transports import httptools
from adapters.transports.base import (
    TransportError,
    TransportOptions,
    TransportResponse,
    TransportTimeout,
)
from adapters.transports.httptools import HttptoolsTransport
from tests.adapters.transports.peer import Peer, Serve, ok

if TYPE_CHECKING:
    from collections.abc import Awaitable, Callable
    from pathlib import Path


def wire_for(peer: Peer, *, max_connections: int = 4, **kwargs: object) -> HttptoolsTransport:
    return HttptoolsTransport(
        base_url=f"http://127.0.0.1:{peer.port}/base",
        headers={"authorization": "Bearer k"},
        max_connections=max_connections,
        **kwargs,  # type: ignore[arg-type]
    )


async def get(
    wire: HttptoolsTransport,
    path: str = "/x",
    *,
    method: str = "GET",
    json: object = None,
    headers: dict[str, str] | None = None,
) -> TransportResponse:
    return await wire.send(
        method, path, params=None, json=json, headers=headers, timeout_s=5, connect_timeout_s=5
    )


def answered_after(delay_s: float) -> Callable[[asyncio.StreamWriter], Awaitable[None]]:
    """A peer's reply that comes after ``delay_s``."""

    async def reply(writer: asyncio.StreamWriter) -> None:
        await asyncio.sleep(delay_s)
        writer.write(ok())
        await writer.drain()

    return reply


async def never(writer: asyncio.StreamWriter) -> None:
    """A peer's reply that never comes (within any test's time)."""
    await asyncio.sleep(10)


async def idle_one_closed(wire: HttptoolsTransport) -> None:
    """Until the wire's idle connection has seen its peer close (or its surprise bytes)."""
    async with asyncio.timeout(5):
        while wire._idle[0].usable:  # noqa: ASYNC110 - protocol state, no event to wait on
            await asyncio.sleep(0.001)


async def test_request_bytes_and_reply(serve: Serve) -> None:
    peer = await serve([ok(b'{"a":1}', "X-Request-Id: r1", "Set-Cookie: a=1", "Set-Cookie: b=2")])
    wire = wire_for(peer)
    response = await wire.send(
        "POST",
        "/items/a%2Fb",
        params={"q": "x y", "n": 2},
        json={"name": "é"},
        headers={"idempotency-key": "k1"},
        timeout_s=5,
        connect_timeout_s=5,
    )
    await wire.aclose()
    assert response.status == 200
    assert response.body == b'{"a":1}'
    assert response.headers["x-request-id"] == "r1"
    assert response.headers["set-cookie"] == "a=1, b=2"
    head, body = peer.requests[0].split(b"\r\n\r\n", 1)
    lines = head.split(b"\r\n")
    assert lines[0] == b"POST /base/items/a%2Fb?q=x+y&n=2 HTTP/1.1"
    assert f"host: 127.0.0.1:{peer.port}".encode() in lines
    assert b"authorization: Bearer k" in lines
    assert b"idempotency-key: k1" in lines
    assert b"content-type: application/json" in lines
    assert body == '{"name":"é"}'.encode()
    assert f"content-length: {len(body)}".encode() in lines


async def test_keeps_the_connection_alive(serve: Serve) -> None:
    peer = await serve([ok(), ok(), ok()])
    wire = wire_for(peer)
    for _ in range(3):
        await get(wire)
    await wire.aclose()
    assert peer.connections == 1


async def test_chunked_reply(serve: Serve) -> None:
    chunked = (
        b'HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n4\r\n{"a"\r\n3\r\n:1}\r\n0\r\n\r\n'
    )
    peer = await serve([chunked, ok()])
    wire = wire_for(peer)
    response = await get(wire)
    assert response.body == b'{"a":1}'
    await get(wire)
    await wire.aclose()
    assert peer.connections == 1


async def test_reply_delimited_by_close(serve: Serve) -> None:
    async def until_close(writer: asyncio.StreamWriter) -> None:
        writer.write(b'HTTP/1.1 200 OK\r\nconnection: close\r\n\r\n{"a":')
        await writer.drain()
        writer.write(b"1}")
        writer.close()

    peer = await serve([until_close, ok()])
    wire = wire_for(peer)
    response = await get(wire)
    assert response.body == b'{"a":1}'
    await get(wire)
    await wire.aclose()
    assert peer.connections == 2


async def test_connection_close_is_not_reused(serve: Serve) -> None:
    peer = await serve([ok(b"{}", "Connection: close"), ok()])
    wire = wire_for(peer)
    await get(wire)
    await get(wire)
    await wire.aclose()
    assert peer.connections == 2


async def test_a_stale_connection_is_retried_for_a_get_only(serve: Serve) -> None:
    # The server reads the second request on the kept-alive connection and closes it unanswered.
    peer = await serve([ok(), None, ok()])
    wire = wire_for(peer)
    await get(wire)
    response = await get(wire)
    assert response.status == 200
    assert peer.connections == 2
    assert len(peer.requests) == 3

    peer.replies = [ok(), None, ok()]
    await get(wire)
    with pytest.raises(TransportError, match="closed before the reply"):
        await get(wire, method="POST", json={"decision": "approve"})
    await wire.aclose()
    posts = [r for r in peer.requests if r.startswith(b"POST")]
    assert len(posts) == 1  # never sent twice


async def test_a_truncated_body_is_an_error(serve: Serve) -> None:
    async def truncated(writer: asyncio.StreamWriter) -> None:
        writer.write(b'HTTP/1.1 200 OK\r\ncontent-length: 100\r\n\r\n{"a":1')
        await writer.drain()
        writer.close()

    peer = await serve([truncated])
    wire = wire_for(peer)
    with pytest.raises(TransportError, match="closed before the reply was complete"):
        await get(wire)
    await wire.aclose()


async def test_garbage_is_an_error(serve: Serve) -> None:
    peer = await serve([b"SMTP ready\r\n\r\n"])
    wire = wire_for(peer)
    with pytest.raises(TransportError, match="unreadable reply"):
        await get(wire)
    await wire.aclose()


async def test_an_interim_reply_is_skipped(serve: Serve) -> None:
    peer = await serve([b"HTTP/1.1 100 Continue\r\n\r\n" + ok(b'{"b":2}')])
    wire = wire_for(peer)
    response = await get(wire)
    await wire.aclose()
    assert response.status == 200
    assert response.body == b'{"b":2}'


@pytest.mark.parametrize(
    ("encoding", "encode"),
    [
        ("gzip", gzip.compress),
        ("deflate", zlib.compress),
        ("deflate", lambda b: zlib.compress(b)[2:-4]),  # raw deflate, as some servers send
    ],
)
async def test_compressed_bodies_are_decoded(
    serve: Serve, encoding: str, encode: Callable[[bytes], bytes]
) -> None:
    peer = await serve([ok(encode(b'{"z":1}'), f"content-encoding: {encoding}")])
    wire = wire_for(peer)
    response = await get(wire)
    await wire.aclose()
    assert response.body == b'{"z":1}'
    assert b"accept-encoding: gzip, deflate" in peer.requests[0]


async def test_unknown_encoding_and_bad_gzip_are_errors(serve: Serve) -> None:
    peer = await serve([ok(b"xx", "content-encoding: br"), ok(b"xx", "content-encoding: gzip")])
    wire = wire_for(peer)
    with pytest.raises(TransportError, match="unsupported content-encoding"):
        await get(wire)
    with pytest.raises(TransportError, match="unreadable gzip body"):
        await get(wire)
    await wire.aclose()


async def test_bodies_are_bounded(serve: Serve) -> None:
    big = b"[" + b"1," * 100 + b"1]"
    peer = await serve(
        [
            ok(big),  # announced too large
            b"HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n"
            + b"%x\r\n" % len(big)
            + big
            + b"\r\n0\r\n\r\n",  # found too large
            ok(gzip.compress(big), "content-encoding: gzip"),  # too large once inflated
        ]
    )
    wire = wire_for(peer, options=TransportOptions(max_body_bytes=64))
    for _ in range(3):
        with pytest.raises(TransportError, match="too large"):
            await get(wire)
    await wire.aclose()


async def test_headers_are_bounded(serve: Serve, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(httptools, "MAX_HEADER_BYTES", 100)
    peer = await serve([ok(b"{}", "x-long: " + "a" * 200)])
    wire = wire_for(peer)
    with pytest.raises(TransportError, match="headers too large"):
        await get(wire)
    await wire.aclose()


@pytest.mark.parametrize(
    "headers",
    [{"x-evil": "a\r\nx-injected: 1"}, {"bad name": "v"}, {"x-nul": "a\x00b"}, {"x-u": "☃"}],
)
async def test_unsafe_request_headers_are_refused(serve: Serve, headers: dict[str, str]) -> None:
    peer = await serve([ok()])
    wire = wire_for(peer)
    with pytest.raises(TransportError, match="header"):
        await get(wire, headers=headers)
    await wire.aclose()
    assert peer.requests == []


async def test_unsafe_paths_are_refused(serve: Serve) -> None:
    peer = await serve([ok()])
    wire = wire_for(peer)
    for path in ("/a b", "/a\r\nHost: x", "/é"):
        with pytest.raises(TransportError, match="invalid request line"):
            await get(wire, path)
    await wire.aclose()
    assert peer.requests == []


async def test_connection_refused_is_an_error() -> None:
    nobody = HttptoolsTransport(base_url="http://127.0.0.1:1", headers={}, max_connections=1)
    with pytest.raises(TransportError, match="connect failed"):
        await get(nobody)


async def test_the_pool_is_bounded_and_shared(serve: Serve) -> None:
    peer = await serve([answered_after(0.02)] * 8)
    wire = wire_for(peer, max_connections=2)
    responses = await asyncio.gather(*(get(wire) for _ in range(8)))
    await wire.aclose()
    assert [r.status for r in responses] == [200] * 8
    assert peer.most_open <= 2
    assert peer.connections == 2


async def test_a_cancelled_exchange_frees_its_slot(serve: Serve) -> None:
    peer = await serve([never, ok()])
    wire = wire_for(peer, max_connections=1)
    with pytest.raises(TimeoutError):
        async with asyncio.timeout(0.05):
            await get(wire)
    response = await get(wire)  # the one slot is free again, on a new connection
    await wire.aclose()
    assert response.status == 200
    assert peer.connections == 2


async def test_bytes_on_an_idle_connection_drop_it(serve: Serve) -> None:
    peer = await serve([ok() + b"HTTP/1.1 200 OK\r\n", ok()])
    wire = wire_for(peer)
    await get(wire)
    await get(wire)
    await wire.aclose()
    assert peer.connections == 2


async def test_a_closed_wire_refuses(serve: Serve) -> None:
    peer = await serve([ok()])
    wire = wire_for(peer)
    await wire.aclose()
    with pytest.raises(TransportError, match="closed"):
        await get(wire)


def test_only_http_urls() -> None:
    with pytest.raises(ValueError, match="not an http"):
        HttptoolsTransport(base_url="ftp://x", headers={}, max_connections=1)


async def test_tls_with_a_trusted_certificate(serve: Serve, tmp_path: Path) -> None:
    authority = trustme.CA()
    server_context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    authority.issue_cert("localhost").configure_cert(server_context)
    ca_bundle = tmp_path / "ca.pem"
    authority.cert_pem.write_to_path(str(ca_bundle))
    peer = await serve([ok(b'{"tls":1}')], tls=server_context)

    wire = HttptoolsTransport(
        base_url=f"https://localhost:{peer.port}",
        headers={},
        max_connections=1,
        options=TransportOptions(ca_bundle=str(ca_bundle)),
    )
    response = await get(wire)
    await wire.aclose()
    assert response.body == b'{"tls":1}'

    untrusting = HttptoolsTransport(
        base_url=f"https://localhost:{peer.port}", headers={}, max_connections=1
    )
    with pytest.raises(TransportError, match="connect failed"):
        await get(untrusting)


async def test_an_idle_connection_the_server_closed_is_replaced(
    serve: Serve,
) -> None:
    async def answer_then_close(writer: asyncio.StreamWriter) -> None:
        writer.write(ok())
        await writer.drain()
        writer.close()

    peer = await serve([answer_then_close, ok()])
    wire = wire_for(peer)
    await get(wire)
    await idle_one_closed(wire)  # the close reaches the client while the connection is idle
    response = await get(wire, method="POST")
    await wire.aclose()
    assert response.status == 200
    assert peer.connections == 2
    assert b"content-length: 0" in peer.requests[1]


async def test_late_bytes_on_an_idle_connection_drop_it(serve: Serve) -> None:
    async def answer_then_chatter(writer: asyncio.StreamWriter) -> None:
        writer.write(ok())
        await writer.drain()
        await asyncio.sleep(0.005)
        writer.write(b"surprise")
        await writer.drain()

    peer = await serve([answer_then_chatter, ok()])
    wire = wire_for(peer)
    await get(wire)
    await idle_one_closed(wire)
    await get(wire)
    await wire.aclose()
    assert peer.connections == 2


async def test_a_protocol_switch_is_an_error(serve: Serve) -> None:
    peer = await serve(
        [b"HTTP/1.1 101 Switching Protocols\r\nupgrade: websocket\r\nconnection: upgrade\r\n\r\n"]
    )
    wire = wire_for(peer)
    with pytest.raises(TransportError, match="switched protocols"):
        await get(wire)
    await wire.aclose()


async def test_giving_up_while_waiting_for_a_slot(serve: Serve) -> None:
    peer = await serve([answered_after(0.05), ok()])
    wire = wire_for(peer, max_connections=1)
    first = asyncio.ensure_future(get(wire))
    await asyncio.sleep(0.01)
    with pytest.raises(TimeoutError):
        async with asyncio.timeout(0.01):
            await get(wire)  # waits for the one connection, then gives up
    assert (await first).status == 200
    assert (await get(wire)).status == 200
    await wire.aclose()
    assert peer.connections == 1


async def send_within(wire: HttptoolsTransport, timeout_s: float) -> TransportResponse:
    return await wire.send(
        "GET", "/x", params=None, json=None, headers=None, timeout_s=timeout_s, connect_timeout_s=5
    )


async def test_a_reply_that_never_comes_times_out_here_and_its_connection_goes(
    serve: Serve,
) -> None:
    async def headers_then_nothing(writer: asyncio.StreamWriter) -> None:
        writer.write(b"HTTP/1.1 200 OK\r\ncontent-length: 10\r\n\r\n{")
        await writer.drain()
        await asyncio.sleep(10)

    peer = await serve([never, headers_then_nothing, ok()])
    wire = wire_for(peer, max_connections=1)
    for _ in range(2):  # no reply at all, then a reply that stops halfway
        with pytest.raises(TransportTimeout):
            await send_within(wire, 0.05)
    assert (await get(wire)).status == 200  # the one slot is free, on a new connection
    await wire.aclose()
    assert peer.connections == 3


async def test_waiting_for_a_free_connection_counts_against_the_exchange(serve: Serve) -> None:
    peer = await serve([answered_after(0.2), ok()])
    wire = wire_for(peer, max_connections=1)
    first = asyncio.ensure_future(get(wire))
    await asyncio.sleep(0.01)
    with pytest.raises(TransportTimeout):
        await send_within(wire, 0.05)  # the one connection stays busy past its time
    assert (await first).status == 200
    assert (await get(wire)).status == 200  # the timed-out waiter passed no turn away
    await wire.aclose()
    assert peer.connections == 1


def test_the_host_header_names_the_origin() -> None:
    default = HttptoolsTransport(
        base_url="http://api.example.com/v1", headers={}, max_connections=1
    )
    assert b"host: api.example.com\r\n" in default._fixed_lines
    tls = HttptoolsTransport(base_url="https://api.example.com:8443", headers={}, max_connections=1)
    assert b"host: api.example.com:8443\r\n" in tls._fixed_lines
    ipv6 = HttptoolsTransport(base_url="http://[::1]:8080", headers={}, max_connections=1)
    assert b"host: [::1]:8080\r\n" in ipv6._fixed_lines


async def test_a_slow_connect_is_a_timeout(monkeypatch: pytest.MonkeyPatch) -> None:
    loop = asyncio.get_running_loop()

    async def hangs(*_args: object, **_kwargs: object) -> object:
        await asyncio.sleep(10)
        raise AssertionError("not reached")

    monkeypatch.setattr(loop, "create_connection", hangs)
    wire = HttptoolsTransport(base_url="http://127.0.0.1:9", headers={}, max_connections=1)
    with pytest.raises(TransportTimeout, match="connect timeout"):
        await wire.send(
            "GET", "/", params=None, json=None, headers=None, timeout_s=5, connect_timeout_s=0.01
        )
    assert wire._open == 0  # the slot is free again


async def test_a_transport_that_died_unnoticed_fails_the_send_cleanly() -> None:
    class Dead(asyncio.Transport):
        """uvloop raises on a write to a transport it has closed."""

        def write(self, data: bytes | bytearray | memoryview) -> None:
            raise RuntimeError("unable to perform operation; the handler is closed")

        def close(self) -> None:
            pass

    exchange = httptools._Exchange(max_body_bytes=64)
    exchange.connection_made(Dead())
    with pytest.raises(TransportError, match="before the request was sent"):
        exchange.exchange(b"GET / HTTP/1.1\r\n\r\n")
    assert exchange.closed
    assert not exchange.usable
