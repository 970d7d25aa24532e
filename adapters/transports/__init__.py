"""What carries upstream requests: one transport per source, chosen by ``server.upstream_client``.

- ``base``: the Transport protocol, the response, the errors, and the shared rules (request
  checks, body cap and decoding, TLS context, proxy resolution);
- ``httptools``: our own HTTP/1.1 keep-alive client, the default and the cheapest per call;
- ``aiohttp`` and ``httpx``: the same rules on those libraries.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

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
    "make_transport",
]


def make_transport(
    client: str,
    *,
    base_url: str,
    headers: Mapping[str, str],
    max_connections: int,
    options: TransportOptions | None = None,
    httpx_transport: httpx.AsyncBaseTransport | None = None,
) -> Transport:
    """The transport named by ``client`` (one of UPSTREAM_CLIENTS); modules load on first use."""
    if client == "httpx" or httpx_transport is not None:
        from adapters.transports.httpx import HttpxTransport

        return HttpxTransport(
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
    if client == "httptools":
        from adapters.transports.httptools import HttptoolsTransport

        return HttptoolsTransport(
            base_url=base_url, headers=headers, max_connections=max_connections, options=options
        )
    raise ValueError(f"unknown upstream client {client!r} (one of {', '.join(UPSTREAM_CLIENTS)})")
