"""What carries one upstream request: our httptools wire, aiohttp, or an httpx client.

Measured on the 2-vCPU machine (docs/performance.md), per call in a 20-call burst: the httptools
wire (``adapters._h1``) spends about 0.07 ms of CPU, aiohttp about 0.17 ms, httpx's API over the
aiohttp transport about 0.46 ms, and httpx's default transport about 2.7 ms. A 20-execution query
is 20 calls, so the gateway's latency and throughput follow that number. The engine therefore
sends through the httptools wire in production (``server.upstream_client``: ``httptools``, the
default, or ``aiohttp``), and keeps httpx where a transport is injected: respx and
``httpx.MockTransport`` in adapter tests, ``ASGITransport`` in in-process tests, or
``server.upstream_client = "httpx"``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol
from urllib.parse import urlencode

import aiohttp
import httpx
from yarl import URL

if TYPE_CHECKING:
    from collections.abc import Mapping

__all__ = [
    "UPSTREAM_CLIENTS",
    "AiohttpWire",
    "HttpxWire",
    "Wire",
    "WireError",
    "WireResponse",
    "WireTimeout",
    "with_query",
]

UPSTREAM_CLIENTS = ("httptools", "aiohttp", "httpx")
KEEPALIVE_S = 30.0
DNS_CACHE_S = 300


def with_query(target: str, params: Mapping[str, Any] | None) -> str:
    """``target`` with ``params`` as its query string (lists repeat the key)."""
    return f"{target}?{urlencode(params, doseq=True)}" if params else target


class WireTimeout(Exception):
    """No complete answer in time."""


class WireError(Exception):
    """The connection failed: refused, reset, closed mid-reply, or unreadable framing."""


@dataclass(frozen=True, slots=True)
class WireResponse:
    status: int
    headers: Mapping[str, str]
    """Read with lower-case names (every wire's mapping answers those)."""
    body: bytes

    def as_httpx(self) -> httpx.Response:
        """For the error path only: adapters read error envelopes from an httpx.Response."""
        return httpx.Response(self.status, headers=dict(self.headers), content=self.body)


class Wire(Protocol):
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
    ) -> WireResponse: ...

    async def aclose(self) -> None: ...


class HttpxWire:
    def __init__(
        self,
        *,
        base_url: str,
        headers: Mapping[str, str],
        max_connections: int,
        transport: httpx.AsyncBaseTransport | None,
    ) -> None:
        self._client = httpx.AsyncClient(
            base_url=base_url,
            headers=dict(headers),
            limits=httpx.Limits(
                max_connections=max_connections, max_keepalive_connections=max_connections
            ),
            transport=transport,
            follow_redirects=False,
        )

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
        timeout = httpx.Timeout(timeout_s, connect=connect_timeout_s)
        try:
            response = await self._client.request(
                method, path, params=params, json=json, headers=headers, timeout=timeout
            )
        except httpx.TimeoutException as exc:
            raise WireTimeout(type(exc).__name__) from exc
        except httpx.TransportError as exc:
            raise WireError(type(exc).__name__) from exc
        return WireResponse(response.status_code, response.headers, response.content)

    async def aclose(self) -> None:
        await self._client.aclose()


class AiohttpWire:
    """One aiohttp session per source, created on first use (it must live on the running loop)."""

    def __init__(self, *, base_url: str, headers: Mapping[str, str], max_connections: int) -> None:
        self._base_url = base_url
        self._headers = dict(headers)
        self._max_connections = max_connections
        self._session: aiohttp.ClientSession | None = None

    def _open(self) -> aiohttp.ClientSession:
        connector = aiohttp.TCPConnector(
            limit=self._max_connections,
            keepalive_timeout=KEEPALIVE_S,
            ttl_dns_cache=DNS_CACHE_S,
        )
        self._session = aiohttp.ClientSession(
            connector=connector,
            headers=self._headers,
            auto_decompress=True,
            trust_env=False,
            timeout=aiohttp.ClientTimeout(total=None),
            skip_auto_headers=("user-agent",),
            # Upstream cookies are not state the gateway keeps between calls (the httptools wire
            # and httpx's per-call use do not either).
            cookie_jar=aiohttp.DummyCookieJar(),
        )
        return self._session

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
        session = self._session or self._open()
        target = with_query(self._base_url + path, params)
        # The path is percent-encoded already (encode_segment): keep it byte for byte.
        url = URL(target, encoded=True)
        # The engine bounds each whole attempt with asyncio.timeout; only connecting gets its own
        # limit here (pooled connections skip it), which spares a timer per read.
        timeout = aiohttp.ClientTimeout(total=None, sock_connect=connect_timeout_s)
        try:
            async with session.request(
                method, url, json=json, headers=headers, allow_redirects=False, timeout=timeout
            ) as response:
                body = await response.read()
                return WireResponse(response.status, response.headers, body)
        except (TimeoutError, aiohttp.ServerTimeoutError) as exc:
            raise WireTimeout(type(exc).__name__) from exc
        except aiohttp.ClientError as exc:
            raise WireError(type(exc).__name__) from exc

    async def aclose(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None
