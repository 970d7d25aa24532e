"""The httpx transport (``server.upstream_client = "httpx"``), and the seam injected transports use.

Tests inject respx or ``httpx.MockTransport`` here, in-process tests ``httpx.ASGITransport``. httpx
reads the environment and decodes bodies on its own terms; both are switched off (``trust_env``
false, raw bytes read) so that the rules of ``adapters.transports.base`` apply instead.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import httpx

from adapters.transports.base import (
    ACCEPT_ENCODING,
    RETRY_STALE,
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
    from collections.abc import Mapping

__all__ = ["HttpxTransport"]

_JSON = {"content-type": "application/json"}


class HttpxTransport:
    def __init__(
        self,
        *,
        base_url: str,
        headers: Mapping[str, str],
        max_connections: int,
        options: TransportOptions | None = None,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        options = options or TransportOptions()
        header_lines(headers)  # refuse unsafe configured headers now, as the other transports do
        self._max_body_bytes = options.max_body_bytes
        proxy: httpx.Proxy | None = None
        verify: Any = True
        if transport is None:  # an injected transport has no network of its own to configure
            verify = options.ssl_context()
            named = options.proxy_for(base_url)
            if named is not None:
                auth = {"proxy-authorization": named.authorization} if named.authorization else None
                proxy = httpx.Proxy(named.url, headers=auth)
        self._client = httpx.AsyncClient(
            base_url=base_url,
            headers={"accept-encoding": ACCEPT_ENCODING, **headers},
            limits=httpx.Limits(
                max_connections=max_connections, max_keepalive_connections=max_connections
            ),
            transport=transport,
            proxy=proxy,
            verify=verify,
            trust_env=False,
            follow_redirects=False,
        )

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
        target = with_query(path, params)
        check_request(method, target, headers)
        content = None if json is None else json_body(json)
        if content is not None:
            headers = {**_JSON, **headers} if headers else _JSON
        request = self._client.build_request(
            method,
            target,
            content=content,
            headers=headers,
            timeout=httpx.Timeout(timeout_s, connect=connect_timeout_s),
        )
        try:
            try:
                return await self._exchange(request)
            except httpx.RemoteProtocolError as exc:
                if method not in RETRY_STALE or not _closed_before_reply(exc):
                    raise
                # httpcore does not say whether the connection was a reused one: see the docs.
                return await self._exchange(request)
        except httpx.TimeoutException as exc:
            raise TransportTimeout(type(exc).__name__) from exc
        except httpx.TransportError as exc:
            raise TransportError(type(exc).__name__) from exc

    async def _exchange(self, request: httpx.Request) -> TransportResponse:
        response = await self._client.send(request, stream=True)
        cap = self._max_body_bytes
        try:
            check_reply_head(response.headers, cap)
            if (
                response.is_stream_consumed
            ):  # an injected double's reply, read (and decoded) already
                if len(response.content) > cap:
                    raise BodyTooLarge("reply body too large")
                return TransportResponse(response.status_code, response.headers, response.content)
            chunks: list[bytes] = []
            size = 0
            async for chunk in response.aiter_raw():
                size += len(chunk)
                if size > cap:
                    raise BodyTooLarge("reply body too large")
                chunks.append(chunk)
        finally:
            await response.aclose()
        body = decode_body(response.headers.get("content-encoding"), b"".join(chunks), cap)
        return TransportResponse(response.status_code, response.headers, body)

    async def aclose(self) -> None:
        await self._client.aclose()


def _closed_before_reply(exc: httpx.RemoteProtocolError) -> bool:
    return "without sending a response" in str(exc)
