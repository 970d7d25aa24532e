"""The aiohttp transport (``server.upstream_client = "aiohttp"``).

One session per source, created on first use (it must live on the running loop). aiohttp's own
environment reading and decompression are switched off (``trust_env`` false, ``auto_decompress``
false) so that the rules of ``adapters.transports.base`` apply instead.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import aiohttp
from yarl import URL

from adapters.transports.base import (
    ACCEPT_ENCODING,
    DNS_CACHE_S,
    KEEPALIVE_S,
    BodyTooLarge,
    TransportError,
    TransportOptions,
    TransportResponse,
    TransportTimeout,
    check_reply_head,
    check_request,
    decode_body,
    header_lines,
    json_body,
    with_query,
)

if TYPE_CHECKING:
    import ssl
    from collections.abc import Mapping

__all__ = ["AiohttpTransport"]

_JSON = {"content-type": "application/json"}
_CHUNK = 64 * 1024


class AiohttpTransport:
    def __init__(
        self,
        *,
        base_url: str,
        headers: Mapping[str, str],
        max_connections: int,
        options: TransportOptions | None = None,
    ) -> None:
        options = options or TransportOptions()
        header_lines(headers)  # refuse unsafe configured headers now, as the other transports do
        self._base_url = base_url
        self._headers = {"accept-encoding": ACCEPT_ENCODING, **headers}
        self._max_connections = max_connections
        self._max_body_bytes = options.max_body_bytes
        self._ssl: ssl.SSLContext | bool = (
            options.ssl_context() if base_url.startswith("https:") else True
        )
        proxy = options.proxy_for(base_url)
        self._proxy = URL(proxy.url) if proxy else None
        self._proxy_headers: dict[str, str] | None = None
        if proxy is not None and proxy.authorization:
            if base_url.startswith("https:"):  # on the CONNECT request only
                self._proxy_headers = {"proxy-authorization": proxy.authorization}
            else:  # aiohttp sends proxy_headers on CONNECT only; a forwarded request carries it
                self._headers["proxy-authorization"] = proxy.authorization
        self._session: aiohttp.ClientSession | None = None

    def _open(self) -> aiohttp.ClientSession:
        connector = aiohttp.TCPConnector(
            limit=self._max_connections,
            keepalive_timeout=KEEPALIVE_S,
            ttl_dns_cache=DNS_CACHE_S,
            ssl=self._ssl,
        )
        self._session = aiohttp.ClientSession(
            connector=connector,
            # No session-wide headers: aiohttp copies them into the proxy's CONNECT request and
            # turns an ``authorization`` among them into ``Proxy-Authorization``, which would hand
            # the upstream's credential to the proxy. They go with each request instead.
            auto_decompress=False,
            trust_env=False,
            timeout=aiohttp.ClientTimeout(total=None),
            skip_auto_headers=("user-agent",),
            # Upstream cookies are not state the gateway keeps between calls (the httptools
            # transport and httpx's per-call use do not either).
            cookie_jar=aiohttp.DummyCookieJar(),
        )
        return self._session

    bounds_whole_exchange = False

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
        target = with_query(self._base_url + path, params)
        check_request(method, target, headers)
        session = self._session or self._open()
        data = None if json is None else json_body(json)
        all_headers = self._headers
        if data is not None or headers:
            all_headers = {**all_headers, **(_JSON if data is not None else {}), **(headers or {})}
        # The path is percent-encoded already (encode_segment): keep it byte for byte.
        url = URL(target, encoded=True)
        # The engine bounds each whole attempt with asyncio.timeout; only connecting gets its own
        # limit here (pooled connections skip it), which spares a timer per read.
        timeout = aiohttp.ClientTimeout(total=None, sock_connect=connect_timeout_s)
        cap = self._max_body_bytes
        try:
            async with session.request(
                method,
                url,
                data=data,
                headers=all_headers,
                allow_redirects=False,
                timeout=timeout,
                proxy=self._proxy,
                proxy_headers=self._proxy_headers,
            ) as response:
                check_reply_head(response.headers, cap)
                chunks: list[bytes] = []
                size = 0
                async for chunk in response.content.iter_chunked(_CHUNK):
                    size += len(chunk)
                    if size > cap:
                        raise BodyTooLarge("reply body too large")
                    chunks.append(chunk)
                encoding = response.headers.get("content-encoding")
                body = decode_body(encoding, b"".join(chunks), cap)
                return TransportResponse(response.status, response.headers, body)
        except (TimeoutError, aiohttp.ServerTimeoutError) as exc:
            raise TransportTimeout(type(exc).__name__) from exc
        except aiohttp.ClientError as exc:
            raise TransportError(type(exc).__name__) from exc

    async def aclose(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None
