"""The one HTTP engine every adapter sits on (style.md habit 2).

One ``httpx.AsyncClient`` per source, opened at start-up and closed at shutdown. It owns what the
four adapters would otherwise each repeat: path building that no id can escape, the per-source
concurrency bound, timeouts, and turning transport failures and bad statuses into the error tree
of ``adapters.errors``. Adapters supply only paths, headers and how to read their error envelope.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from email.utils import parsedate_to_datetime
from typing import Any, Protocol
from urllib.parse import quote

import httpx

from adapters.errors import (
    ExecutionNotFound,
    UpstreamAuthFailed,
    UpstreamBadResponse,
    UpstreamConflict,
    UpstreamError,
    UpstreamRateLimited,
    UpstreamRejected,
    UpstreamTimeout,
    UpstreamUnavailable,
)

__all__ = [
    "DEFAULT_CONNECT_TIMEOUT_S",
    "DEFAULT_MAX_CONCURRENCY",
    "DEFAULT_TIMEOUT_S",
    "CallObserver",
    "CallRecord",
    "HTTPSettings",
    "SourceHTTP",
    "encode_segment",
    "error_for_status",
    "parse_retry_after",
]

DEFAULT_TIMEOUT_S = 10.0
DEFAULT_CONNECT_TIMEOUT_S = 3.0
DEFAULT_MAX_CONCURRENCY = 32
DEFAULT_USER_AGENT = "execution-gateway/0.1"


@dataclass(frozen=True, slots=True)
class HTTPSettings:
    timeout_s: float = DEFAULT_TIMEOUT_S
    connect_timeout_s: float = DEFAULT_CONNECT_TIMEOUT_S
    max_concurrency: int = DEFAULT_MAX_CONCURRENCY


@dataclass(frozen=True, slots=True)
class CallRecord:
    """One finished upstream call, as observers (stats, metrics, logs) see it."""

    source: str
    method: str
    template: str
    status: int | None
    duration_s: float
    error_code: str | None


class CallObserver(Protocol):
    def __call__(self, record: CallRecord) -> None: ...


ErrorReader = Callable[[httpx.Response, Any], UpstreamError | None]
"""An adapter's reading of an error body: an UpstreamError, or None to fall back to the status."""


def encode_segment(value: str) -> str:
    """Percent-encode one path segment so that no value can add segments, a query or dot segments."""
    if not value:
        raise ValueError("an empty id cannot be a path segment")
    encoded = quote(value, safe="-_~")
    return encoded.replace(".", "%2E") if set(value) == {"."} else encoded


def parse_retry_after(value: str | None) -> float | None:
    """``Retry-After`` as seconds: either delta-seconds or an HTTP date."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, when.timestamp() - time.time())


_STATUS_ERRORS: dict[int, type[UpstreamError]] = {
    400: UpstreamRejected,
    401: UpstreamAuthFailed,
    403: UpstreamAuthFailed,
    404: ExecutionNotFound,
    408: UpstreamTimeout,
    409: UpstreamConflict,
    422: UpstreamRejected,
    429: UpstreamRateLimited,
    504: UpstreamTimeout,
}


def error_for_status(status: int) -> type[UpstreamError]:
    """The error class an HTTP status means when the body says nothing more precise."""
    if status in _STATUS_ERRORS:
        return _STATUS_ERRORS[status]
    if status >= 500:
        return UpstreamUnavailable
    return UpstreamBadResponse


class SourceHTTP:
    """HTTP access to one configured source: base URL, credentials headers, limits."""

    def __init__(
        self,
        *,
        source: str,
        base_url: str,
        headers: Mapping[str, str],
        settings: HTTPSettings,
        read_error: ErrorReader | None = None,
        transport: httpx.AsyncBaseTransport | None = None,
        observers: tuple[CallObserver, ...] = (),
    ) -> None:
        self.source = source
        self.settings = settings
        self._read_error = read_error
        self._observers = observers
        self._semaphore = asyncio.Semaphore(settings.max_concurrency)
        self._client = httpx.AsyncClient(
            base_url=base_url.rstrip("/"),
            headers={"user-agent": DEFAULT_USER_AGENT, "accept": "application/json", **headers},
            timeout=httpx.Timeout(settings.timeout_s, connect=settings.connect_timeout_s),
            limits=httpx.Limits(
                max_connections=settings.max_concurrency,
                max_keepalive_connections=settings.max_concurrency,
            ),
            transport=transport,
            follow_redirects=False,
        )

    async def aclose(self) -> None:
        await self._client.aclose()

    def add_observer(self, observer: CallObserver) -> None:
        self._observers = (*self._observers, observer)

    async def request_json(
        self,
        method: str,
        template: str,
        *segments: str,
        params: Mapping[str, Any] | None = None,
        json: Any = None,
        headers: Mapping[str, str] | None = None,
        native_id: str | None = None,
    ) -> Any:
        """Send one request and return its decoded JSON body, or raise an UpstreamError.

        ``template`` holds ``{}`` where each of ``segments`` goes, percent-encoded; it also names
        the endpoint in observations, so no id ever reaches a metric label or a log's path field.
        """
        path = template.format(*(encode_segment(s) for s in segments))
        started = time.perf_counter()
        status: int | None = None
        error: UpstreamError | None = None
        try:
            async with self._semaphore:
                try:
                    response = await self._client.request(
                        method, path, params=params, json=json, headers=headers
                    )
                except httpx.TimeoutException as exc:
                    raise UpstreamTimeout(source=self.source, native_id=native_id) from exc
                except httpx.TransportError as exc:
                    raise UpstreamUnavailable(
                        type(exc).__name__, source=self.source, native_id=native_id
                    ) from exc
            status = response.status_code
            return self._decode(response, native_id)
        except UpstreamError as exc:
            error = exc
            raise
        finally:
            record = CallRecord(
                source=self.source,
                method=method,
                template=template,
                status=status,
                duration_s=time.perf_counter() - started,
                error_code=error.code if error else None,
            )
            for observer in self._observers:
                observer(record)

    def _decode(self, response: httpx.Response, native_id: str | None) -> Any:
        try:
            body: Any = response.json()
        except ValueError:
            body = None
            if response.is_success:
                raise UpstreamBadResponse(
                    "the body is not JSON",
                    source=self.source,
                    native_id=native_id,
                    http_status=response.status_code,
                ) from None
        if response.is_success:
            return body
        error = self._read_error(response, body) if self._read_error else None
        if error is None:
            error = error_for_status(response.status_code)()
        error.source = self.source
        error.native_id = native_id
        error.http_status = response.status_code
        if isinstance(error, UpstreamRateLimited) and error.retry_after is None:
            error.retry_after = parse_retry_after(response.headers.get("retry-after"))
        raise error
