"""Every transport, one behaviour: the same scripted peers and proxies, the same expectations.

Each test runs once per ``server.upstream_client`` (httptools, aiohttp, httpx). Where a library
genuinely differs, the test names the difference and asserts it, and docs/deployment.md says so.
"""

from __future__ import annotations

import asyncio
import gzip
import socket
import zlib
from typing import TYPE_CHECKING, Any

import pytest

from adapters.engine import HTTPSettings, SourceHTTP
from adapters.errors import UpstreamTimeout
from adapters.transports import (
    UPSTREAM_CLIENTS,
    BodyTooLarge,
    Transport,
    TransportError,
    TransportOptions,
    TransportResponse,
    TransportTimeout,
    UnsafeRequest,
    make_transport,
)
from tests.adapters.transports.peer import Peer, ScriptedProxy, ok

if TYPE_CHECKING:
    from collections.abc import AsyncIterator, Awaitable, Callable

    from tests.adapters.transports.conftest import Servers
    from tests.adapters.transports.peer import Authority, Serve

    StartProxy = Callable[..., Awaitable[ScriptedProxy]]


@pytest.fixture(params=UPSTREAM_CLIENTS)
def client(request: pytest.FixtureRequest) -> str:
    name: str = request.param
    return name


@pytest.fixture
async def opened() -> AsyncIterator[list[Transport]]:
    transports: list[Transport] = []
    yield transports
    for transport in transports:
        await transport.aclose()


@pytest.fixture
def transport(client: str, opened: list[Transport]) -> Callable[..., Transport]:
    def make(
        base_url: str,
        *,
        options: TransportOptions | None = None,
        headers: dict[str, str] | None = None,
        max_connections: int = 4,
    ) -> Transport:
        made = make_transport(
            client,
            base_url=base_url,
            headers={"authorization": "Bearer k"} if headers is None else headers,
            max_connections=max_connections,
            options=options or TransportOptions(),
        )
        opened.append(made)
        return made

    return make


def http(peer: Peer) -> str:
    return f"http://127.0.0.1:{peer.port}/base"


async def send(
    transport: Transport,
    path: str = "/x",
    *,
    method: str = "GET",
    json: Any = None,
    params: dict[str, Any] | None = None,
    headers: dict[str, str] | None = None,
    connect_timeout_s: float = 5.0,
) -> TransportResponse:
    return await transport.send(
        method,
        path,
        params=params,
        json=json,
        headers=headers,
        timeout_s=5.0,
        connect_timeout_s=connect_timeout_s,
    )


def request_line(raw: bytes) -> bytes:
    return raw.split(b"\r\n", 1)[0]


def header(raw: bytes, name: bytes) -> bytes | None:
    head = raw.split(b"\r\n\r\n", 1)[0]
    for line in head.split(b"\r\n")[1:]:
        key, _, value = line.partition(b":")
        if key.strip().lower() == name:
            return value.strip()
    return None


# -- framing and what is sent ---------------------------------------------------------------


async def test_the_request_is_the_same_bytes_that_matter(
    serve: Serve, transport: Callable[..., Transport]
) -> None:
    peer = await serve([ok(b'{"a":1}', "X-Request-Id: r1")])
    response = await send(
        transport(http(peer)),
        "/items/a%2Fb",
        method="POST",
        params={"q": "x y", "n": 2},
        json={"name": "é"},
        headers={"idempotency-key": "k1"},
    )
    assert (response.status, response.body) == (200, b'{"a":1}')
    assert response.headers["x-request-id"] == "r1"
    (raw,) = peer.requests
    assert request_line(raw) == b"POST /base/items/a%2Fb?q=x+y&n=2 HTTP/1.1"
    assert header(raw, b"authorization") == b"Bearer k"
    assert header(raw, b"idempotency-key") == b"k1"
    assert header(raw, b"content-type") == b"application/json"
    assert header(raw, b"accept-encoding") == b"gzip, deflate"
    assert raw.split(b"\r\n\r\n", 1)[1] == '{"name":"é"}'.encode()


def chunked(body: bytes) -> bytes:
    return (
        b"HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n"
        + b"".join(b"%x\r\n%s\r\n" % (len(part), part) for part in (body[:3], body[3:]))
        + b"0\r\n\r\n"
    )


async def until_close(writer: asyncio.StreamWriter) -> None:
    writer.write(b'HTTP/1.1 200 OK\r\nconnection: close\r\n\r\n{"a":')
    await writer.drain()
    writer.write(b"1}")
    writer.close()


@pytest.mark.parametrize(
    ("reply", "connections"),
    [
        pytest.param(ok(b'{"a":1}'), 1, id="content-length"),
        pytest.param(chunked(b'{"a":1}'), 1, id="chunked"),
        pytest.param(until_close, 2, id="close-delimited"),
    ],
)
async def test_framing(
    serve: Serve,
    transport: Callable[..., Transport],
    reply: bytes | Callable[[asyncio.StreamWriter], Awaitable[None]],
    connections: int,
) -> None:
    peer = await serve([reply, ok()])
    wire = transport(http(peer))
    assert (await send(wire)).body == b'{"a":1}'
    assert (await send(wire)).body == b'{"ok":true}'
    assert peer.connections == connections  # kept alive unless the reply ended with the close


async def test_a_truncated_body_is_an_error(
    serve: Serve, transport: Callable[..., Transport]
) -> None:
    async def truncated(writer: asyncio.StreamWriter) -> None:
        writer.write(b'HTTP/1.1 200 OK\r\ncontent-length: 100\r\n\r\n{"a":1')
        await writer.drain()
        writer.close()

    peer = await serve([truncated])
    with pytest.raises(TransportError):
        await send(transport(http(peer)))


@pytest.mark.parametrize(
    "encode",
    [gzip.compress, zlib.compress, lambda b: zlib.compress(b)[2:-4]],
    ids=["gzip", "deflate", "raw-deflate"],
)
async def test_compressed_bodies_are_decoded(
    serve: Serve, transport: Callable[..., Transport], encode: Callable[[bytes], bytes]
) -> None:
    name = "gzip" if encode is gzip.compress else "deflate"
    peer = await serve([ok(encode(b'{"z":1}'), f"content-encoding: {name}")])
    assert (await send(transport(http(peer)))).body == b'{"z":1}'


async def test_an_encoding_we_did_not_ask_for_is_refused(
    serve: Serve, transport: Callable[..., Transport]
) -> None:
    peer = await serve([ok(b"xx", "content-encoding: br")])
    with pytest.raises(TransportError, match="content-encoding"):
        await send(transport(http(peer)))


# -- bounds ------------------------------------------------------------------------------------

CAP = 1024
BIG = b"[" + b"1," * 600 + b"1]"  # 1203 bytes: over the cap


def bomb(compress: Callable[[bytes], bytes]) -> bytes:
    """A few hundred bytes that inflate to 1 MiB: a thousand times the cap."""
    return compress(b"[" + b" " * (1024 * 1024) + b"]")


@pytest.mark.parametrize(
    "reply",
    [
        pytest.param(ok(BIG), id="announced"),
        pytest.param(chunked(BIG), id="chunked"),
        pytest.param(b"HTTP/1.1 200 OK\r\nconnection: close\r\n\r\n" + BIG, id="close-delimited"),
        pytest.param(ok(bomb(gzip.compress), "content-encoding: gzip"), id="gzip-bomb"),
        pytest.param(ok(bomb(zlib.compress), "content-encoding: deflate"), id="deflate-bomb"),
    ],
)
async def test_one_body_cap_for_all(
    serve: Serve, transport: Callable[..., Transport], reply: bytes
) -> None:
    peer = await serve([reply, ok(b"[" + b"1," * 500 + b"1]")])
    wire = transport(http(peer), options=TransportOptions(max_body_bytes=CAP))
    with pytest.raises(BodyTooLarge):
        await send(wire)
    assert len((await send(wire)).body) == 1003  # under the cap: read whole


async def test_headers_beyond_64_kib_are_refused(
    serve: Serve, transport: Callable[..., Transport]
) -> None:
    """All three refuse; aiohttp and httpx refuse sooner (8 KiB per line, 64 KiB in all)."""
    peer = await serve([ok(b"{}", "x-long: " + "a" * 70_000)])
    with pytest.raises(TransportError):
        await send(transport(http(peer)))


# -- request smuggling -----------------------------------------------------------------------


@pytest.mark.parametrize(
    "headers",
    [{"x-evil": "a\r\nx-injected: 1"}, {"x-lf": "a\nb"}, {"x-nul": "a\x00b"}, {"bad name": "v"}],
    ids=["crlf", "lf", "nul", "name"],
)
async def test_unsafe_header_values_are_refused_before_sending(
    serve: Serve, transport: Callable[..., Transport], headers: dict[str, str]
) -> None:
    peer = await serve([ok()])
    wire = transport(http(peer))
    with pytest.raises(UnsafeRequest):
        await send(wire, headers=headers)
    with pytest.raises(UnsafeRequest):
        transport(http(peer), headers=headers)  # a configured header: refused at start-up
    assert peer.connections == 0


@pytest.mark.parametrize("path", ["/a b", "/a\r\nHost: x", "/x\x00", "/é"])
async def test_unsafe_paths_are_refused_before_sending(
    serve: Serve, transport: Callable[..., Transport], path: str
) -> None:
    peer = await serve([ok()])
    with pytest.raises(UnsafeRequest):
        await send(transport(http(peer)), path)
    assert peer.connections == 0


# -- stale connections -------------------------------------------------------------------------


async def test_a_get_on_a_stale_connection_is_resent_once(
    serve: Serve, transport: Callable[..., Transport]
) -> None:
    # The peer reads the second request on the kept-alive connection and closes it unanswered.
    peer = await serve([ok(), None, ok(b'{"again":1}')])
    wire = transport(http(peer))
    await send(wire)
    assert (await send(wire)).body == b'{"again":1}'
    assert peer.connections == 2
    assert len(peer.requests) == 3


async def test_a_post_on_a_stale_connection_is_never_resent(
    serve: Serve, transport: Callable[..., Transport]
) -> None:
    peer = await serve([ok(), None, ok()])
    wire = transport(http(peer))
    await send(wire)
    with pytest.raises(TransportError):
        await send(wire, method="POST", json={"decision": "approve"})
    assert [request_line(r)[:4] for r in peer.requests] == [b"GET ", b"POST"]


async def test_a_get_on_a_new_connection_closed_unanswered(
    client: str, serve: Serve, transport: Callable[..., Transport]
) -> None:
    """The documented difference: only httptools knows whether the connection was a reused one.

    httptools resends only on a reused connection, so a new one closed unanswered is an error at
    once. aiohttp (its own rule) and httpx (ours: httpcore does not say) resend a GET once either
    way. A POST is never resent by any of them; the engine's retries are separate.
    """
    peer = await serve([None, ok()])
    wire = transport(http(peer))
    if client == "httptools":
        with pytest.raises(TransportError):
            await send(wire)
        assert len(peer.requests) == 1
    else:
        assert (await send(wire)).status == 200
        assert len(peer.requests) == 2


# -- timeouts ------------------------------------------------------------------------------------


async def test_a_connect_that_never_completes_is_a_connect_timeout(
    transport: Callable[..., Transport], servers: Servers
) -> None:
    async def silent(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.read()  # accepts TCP, never answers the TLS hello

    port = await servers.start(silent)
    with pytest.raises(TransportTimeout):
        await send(transport(f"https://localhost:{port}"), connect_timeout_s=0.05)


async def test_a_reply_that_never_comes_times_out_in_the_engine(client: str, serve: Serve) -> None:
    """Transports leave the attempt's bound to the engine (one timer per attempt, not per read)."""

    async def never(writer: asyncio.StreamWriter) -> None:
        await asyncio.sleep(10)

    peer = await serve([never])
    engine = SourceHTTP(
        source="up",
        base_url=http(peer),
        headers={},
        settings=HTTPSettings(timeout_s=0.05, retries=0, breaker_failures=0),
        client=client,
    )
    try:
        with pytest.raises(UpstreamTimeout):
            await engine.request_json("GET", "/x")
    finally:
        await engine.aclose()


async def test_connection_refused_is_an_error(transport: Callable[..., Transport]) -> None:
    with socket.socket() as unused:  # bound, never listening: the port refuses connections
        unused.bind(("127.0.0.1", 0))
        port = unused.getsockname()[1]
        with pytest.raises(TransportError):
            await send(transport(f"http://127.0.0.1:{port}"))


# -- TLS ---------------------------------------------------------------------------------------


async def test_tls_with_a_ca_bundle_and_a_client_certificate(
    serve: Serve, transport: Callable[..., Transport], authority: Authority
) -> None:
    peer = await serve(
        [ok(b'{"tls":1}'), ok()], tls=authority.server_context(require_client_cert=True)
    )
    options = TransportOptions(
        ca_bundle=str(authority.ca_bundle),
        client_cert=str(authority.client_cert),
        client_key=str(authority.client_key),
    )
    wire = transport(f"https://localhost:{peer.port}", options=options)
    assert (await send(wire)).body == b'{"tls":1}'
    await send(wire)
    assert peer.connections == 1


async def test_a_client_certificate_and_key_in_one_file(
    serve: Serve, transport: Callable[..., Transport], authority: Authority
) -> None:
    peer = await serve([ok()], tls=authority.server_context(require_client_cert=True))
    options = TransportOptions(
        ca_bundle=str(authority.ca_bundle), client_cert=str(authority.client_pem)
    )
    assert (await send(transport(f"https://localhost:{peer.port}", options=options))).status == 200


async def test_without_the_client_certificate_the_server_refuses(
    serve: Serve, transport: Callable[..., Transport], authority: Authority
) -> None:
    peer = await serve([ok(), ok()], tls=authority.server_context(require_client_cert=True))
    options = TransportOptions(ca_bundle=str(authority.ca_bundle))
    with pytest.raises(TransportError):
        await send(transport(f"https://localhost:{peer.port}", options=options))


async def test_an_unknown_ca_or_the_wrong_name_is_refused(
    serve: Serve, transport: Callable[..., Transport], authority: Authority
) -> None:
    peer = await serve([ok()], tls=authority.server_context(require_client_cert=False))
    with pytest.raises(TransportError):  # the system's trust store does not know the test CA
        await send(transport(f"https://localhost:{peer.port}"))
    named = TransportOptions(ca_bundle=str(authority.ca_bundle))
    with pytest.raises(TransportError):  # the certificate names localhost, not 127.0.0.1
        await send(transport(f"https://127.0.0.1:{peer.port}", options=named))
    assert peer.requests == []


async def test_verify_off_skips_the_checks(
    serve: Serve, transport: Callable[..., Transport], authority: Authority
) -> None:
    peer = await serve([ok()], tls=authority.server_context(require_client_cert=False))
    options = TransportOptions(verify=False)
    assert (await send(transport(f"https://127.0.0.1:{peer.port}", options=options))).status == 200


# -- proxies -----------------------------------------------------------------------------------


async def test_https_goes_through_one_connect_tunnel_per_connection(
    serve: Serve, proxy: StartProxy, transport: Callable[..., Transport], authority: Authority
) -> None:
    peer = await serve(
        [ok(b'{"n":1}'), ok(b'{"n":2}')], tls=authority.server_context(require_client_cert=True)
    )
    tunnel = await proxy(peer)
    options = TransportOptions(
        proxy_url=f"http://ops:s%40cret@127.0.0.1:{tunnel.port}",
        ca_bundle=str(authority.ca_bundle),
        client_cert=str(authority.client_pem),
    )
    wire = transport("https://upstream.test:8443/base", options=options)
    assert (await send(wire)).body == b'{"n":1}'
    assert (await send(wire)).body == b'{"n":2}'
    assert tunnel.tunnels == 1  # kept alive through the tunnel
    (connect,) = tunnel.heads
    assert request_line(connect) == b"CONNECT upstream.test:8443 HTTP/1.1"
    assert header(connect, b"proxy-authorization") == b"Basic b3BzOnNAY3JldA=="  # ops:s@cret
    assert header(connect, b"authorization") is None  # the upstream's credential stays inside
    assert request_line(peer.requests[0]) == b"GET /base/x HTTP/1.1"
    assert header(peer.requests[0], b"proxy-authorization") is None  # never past the proxy


async def test_plain_http_goes_to_the_proxy_in_absolute_form(
    proxy: StartProxy, transport: Callable[..., Transport]
) -> None:
    forward = await proxy()
    options = TransportOptions(proxy_url=f"http://ops:pw@127.0.0.1:{forward.port}")
    wire = transport("http://upstream.test/base", options=options)
    response = await send(wire, params={"q": "1"})
    assert response.body == b'{"via":"proxy"}'
    assert forward.tunnels == 0
    (raw,) = forward.heads
    assert request_line(raw) == b"GET http://upstream.test/base/x?q=1 HTTP/1.1"
    assert header(raw, b"host") == b"upstream.test"
    assert header(raw, b"proxy-authorization") == b"Basic b3BzOnB3"


async def test_a_tunnel_the_proxy_refuses_is_an_error(
    proxy: StartProxy, transport: Callable[..., Transport]
) -> None:
    refusing = await proxy(refuse=b"HTTP/1.1 407 Proxy Authentication Required\r\n\r\n")
    options = TransportOptions(proxy_url=f"http://127.0.0.1:{refusing.port}")
    with pytest.raises(TransportError):
        await send(transport("https://upstream.test", options=options))
    assert len(refusing.heads) == 1


async def test_the_environment_names_the_proxy_unless_told_not_to(
    serve: Serve,
    proxy: StartProxy,
    transport: Callable[..., Transport],
    authority: Authority,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    peer = await serve([ok(), ok()], tls=authority.server_context(require_client_cert=False))
    tunnel = await proxy(peer)
    monkeypatch.setenv("HTTPS_PROXY", f"127.0.0.1:{tunnel.port}")
    monkeypatch.setenv("NO_PROXY", "internal.example")
    trusted = TransportOptions(ca_bundle=str(authority.ca_bundle))
    assert (await send(transport("https://upstream.test", options=trusted))).status == 200
    assert tunnel.tunnels == 1

    # trust_env off: the environment is not read (nor is it by the library underneath), so the
    # transport goes direct: here to localhost, where the peer listens.
    direct = TransportOptions(ca_bundle=str(authority.ca_bundle), trust_env=False)
    assert (await send(transport(f"https://localhost:{peer.port}", options=direct))).status == 200
    assert tunnel.tunnels == 1
