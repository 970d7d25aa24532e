"""What carries upstream requests: one transport per source, chosen by ``server.upstream_client``.

- ``base``: the Transport protocol, the response, the errors, and the shared rules (request
  checks, body cap and decoding, TLS context, proxy resolution);
- ``httptools``: our own HTTP/1.1 keep-alive client, the default and the cheapest per call;
- ``aiohttp`` and ``httpx``: the same rules on those libraries. httpx is optional (the ``httpx``
  extra): only its module imports it, and only when it is chosen or a test injects a transport.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, TypeAlias

from adapters.transports.base import (
    MAX_BODY_BYTES,
    UPSTREAM_CLIENTS,
    BodyTooLarge,
    Proxy,
    Transport,
    TransportError,
    TransportOptions,
    TransportResponse,
    TransportTimeout,
    UnsafeRequest,
)

if TYPE_CHECKING:
    from collections.abc import Mapping

    import httpx

    from adapters.transports.httpx import HttpxTransport

    InjectedTransport: TypeAlias = httpx.AsyncBaseTransport
    """What tests inject in place of the network (respx, ``httpx.MockTransport``,
    ``httpx.ASGITransport``); carried by the httpx transport, so it needs the httpx extra."""

__all__ = [
    "MAX_BODY_BYTES",
    "UPSTREAM_CLIENTS",
    "BodyTooLarge",
    "Proxy",
    "Transport",
    "TransportError",
    "TransportOptions",
    "TransportResponse",
    "TransportTimeout",
    "UnsafeRequest",
    "check_client",
    "make_transport",
]

HTTPX_MISSING = (
    'server.upstream_client = "httpx" (or an injected httpx transport) needs httpx, which is not '
    "installed: pip install 'execution-gateway[httpx]', or choose httptools or aiohttp"
)


def check_client(client: str) -> None:
    """Raise ValueError, saying what to do, unless ``client`` is one this install can run:
    asked at start-up, so a missing optional library is a config error, not a first-call one."""
    if client not in UPSTREAM_CLIENTS:
        raise ValueError(
            f"unknown upstream client {client!r} (one of {', '.join(UPSTREAM_CLIENTS)})"
        )
    if client == "httpx":
        _httpx_transport()


def _httpx_transport() -> type[HttpxTransport]:
    try:
        from adapters.transports.httpx import HttpxTransport
    except ModuleNotFoundError as exc:
        if exc.name != "httpx":
            raise
        raise ValueError(HTTPX_MISSING) from None
    return HttpxTransport


def make_transport(
    client: str,
    *,
    base_url: str,
    headers: Mapping[str, str],
    max_connections: int,
    options: TransportOptions | None = None,
    httpx_transport: InjectedTransport | None = None,
) -> Transport:
    """The transport named by ``client`` (one of UPSTREAM_CLIENTS); modules load on first use.

    ValueError for an unknown client, or httpx asked for and not installed (``check_client``).
    """
    check_client(client)
    if client == "httpx" or httpx_transport is not None:
        return _httpx_transport()(
            base_url=base_url,
            headers=headers,
            max_connections=max_connections,
            options=options,
            transport=httpx_transport,
        )
    if client == "aiohttp":
        from adapters.transports.aiohttp import AiohttpTransport

        return AiohttpTransport(
            base_url=base_url, headers=headers, max_connections=max_connections, options=options
        )
    from adapters.transports.httptools import HttptoolsTransport

    return HttptoolsTransport(
        base_url=base_url, headers=headers, max_connections=max_connections, options=options
    )
