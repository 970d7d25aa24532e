"""The one HTTP engine every adapter sits on (style.md habit 2).

One transport per source (``adapters.transports``), opened at start-up and closed at shutdown. The
engine owns what the four adapters would otherwise each repeat: path building that no id can
escape, the per-source concurrency bound, timeouts and the request deadline, retries with backoff
and a retry budget, the circuit breaker (``adapters.resilience``), and turning transport failures
and bad statuses into the error tree of ``adapters.errors``. Adapters supply only paths, headers and
how to read their error envelope. ``docs/resilience.md`` explains the policy; the constants below
are its numbers.
"""

from __future__ import annotations

import asyncio
import random
import time
from collections.abc import Awaitable, Callable, Mapping
from contextvars import ContextVar
from dataclasses import dataclass, field
from email.utils import parsedate_to_datetime
from functools import lru_cache
from typing import TYPE_CHECKING, Any, Protocol
from urllib.parse import quote

from adapters.errors import (
    CallBudgetSpent,
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
from adapters.jsonio import loads_json
from adapters.resilience import (
    Admission,
    CircuitBreaker,
    CircuitOpen,
    CircuitState,
    RetryBudget,
    time_left,
)
from adapters.slots import Slots
from adapters.transports import (
    Transport,
    TransportError,
    TransportOptions,
    TransportResponse,
    TransportTimeout,
    make_transport,
)

if TYPE_CHECKING:
    from adapters.transports import InjectedTransport

__all__ = [
    "BACKOFF_BASE_S",
    "BACKOFF_CAP_S",
    "DEFAULT_BREAKER_COOLDOWN_S",
    "DEFAULT_BREAKER_FAILURES",
    "DEFAULT_CONNECT_TIMEOUT_S",
    "DEFAULT_MAX_CONCURRENCY",
    "DEFAULT_RETRIES",
    "DEFAULT_TIMEOUT_S",
    "MAX_RETRY_AFTER_S",
    "CallBudget",
    "CallObserver",
    "CallRecord",
    "ErrorReader",
    "HTTPSettings",
    "SourceHTTP",
    "call_budget",
    "encode_segment",
    "error_for_status",
    "parse_retry_after",
]

DEFAULT_TIMEOUT_S = 10.0
DEFAULT_CONNECT_TIMEOUT_S = 3.0
DEFAULT_MAX_CONCURRENCY = 32
DEFAULT_USER_AGENT = "execution-gateway/0.1"
DEFAULT_RETRIES = 2
"""Extra attempts after the first, for idempotent calls only."""
DEFAULT_BREAKER_FAILURES = 5
DEFAULT_BREAKER_COOLDOWN_S = 10.0

BACKOFF_BASE_S = 0.05
BACKOFF_CAP_S = 1.0
"""Full jitter: the n-th retry waits uniform(0, min(cap, base * 2**(n-1))) seconds."""
MAX_RETRY_AFTER_S = 5.0
"""A longer ``Retry-After`` is not waited for even without a deadline: the caller gets it instead."""
_DEADLINE_SLACK_S = 0.01
"""A timeout this close to the request's deadline is the deadline's doing, not the upstream's."""


class CallBudget:
    """The upstream calls one GraphQL operation may still start (the gateway's
    ``limits.max_upstream_calls``); set for a block with ``call_budget``, like the deadline."""

    __slots__ = ("allowed", "made")

    def __init__(self, allowed: int) -> None:
        self.allowed = allowed
        self.made = 0

    def spend(self, source: str) -> None:
        """Count one call, or raise CallBudgetSpent (nothing is sent) when none is left."""
        if self.made >= self.allowed:
            raise CallBudgetSpent(
                f"at most {self.allowed} per operation (limits.max_upstream_calls)", source=source
            )
        self.made += 1


call_budget: ContextVar[CallBudget | None] = ContextVar("call_budget", default=None)
"""The current operation's CallBudget, or None (no bound). Tasks started inside inherit it."""


@dataclass(frozen=True, slots=True)
class HTTPSettings:
    """One source's engine settings; ``gateway.config.SourceConfig`` holds one, built from TOML."""

    timeout_s: float = DEFAULT_TIMEOUT_S
    """The most one attempt may take, body included (the deadline may cut it shorter)."""
    connect_timeout_s: float = DEFAULT_CONNECT_TIMEOUT_S
    max_concurrency: int = DEFAULT_MAX_CONCURRENCY
    retries: int = DEFAULT_RETRIES
    breaker_failures: int = DEFAULT_BREAKER_FAILURES
    """Consecutive counted failures that open the breaker; 0 disables it."""
    breaker_cooldown_s: float = DEFAULT_BREAKER_COOLDOWN_S
    transport: TransportOptions = field(default_factory=TransportOptions)
    """How the source is reached: proxy, TLS trust, client certificate (every client alike)."""


@dataclass(frozen=True, slots=True)
class CallRecord:
    """One finished upstream attempt, as observers (stats, metrics, logs) see it.

    ``template`` names the endpoint (never the path with its ids); ``attempt`` is 1 for the
    first try of a call and counts up with each retry. Calls refused before reaching the
    network (breaker open, deadline spent) make no record.
    """

    source: str
    method: str
    template: str
    status: int | None
    duration_s: float
    error_code: str | None
    attempt: int = 1


class CallObserver(Protocol):
    def __call__(self, record: CallRecord) -> None: ...


ErrorReader = Callable[[TransportResponse, Any], UpstreamError | None]
"""An adapter's reading of an error reply (status, headers, raw body) and its JSON body (None
when not JSON): an UpstreamError, or None to fall back to the status."""


@lru_cache(maxsize=4096)
def encode_segment(value: str) -> str:
    """Percent-encode one path segment so that no value can add segments, a query or dot segments.

    Kept per value: the same ids are asked again and again (a polled run, a list then its items),
    and ``quote`` costs more than a cache hit (about 1.4 µs against 0.1 µs).
    """
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


def _counts_against_breaker(error: UpstreamError) -> bool:
    """Only signs that the upstream is unreachable or broken: timeouts, transport errors, 5xx.

    Everything else is an answer (not found, auth, rejected, conflict, rate limited, a body we
    cannot read): the upstream is there, and one bad record must not take a whole source down.
    """
    return isinstance(error, UpstreamTimeout | UpstreamUnavailable)


Sleep = Callable[[float], Awaitable[None]]


@dataclass(slots=True)
class _Call:
    """One ``request_json`` call, as its attempts (and their record) need it.

    Not frozen: it never leaves the engine, and a frozen init costs twice as much per call.
    """

    method: str
    template: str
    path: str  # the template with its segments, percent-encoded
    params: Mapping[str, Any] | None
    json: Any
    headers: Mapping[str, str] | None
    native_id: str | None


class SourceHTTP:
    """HTTP access to one configured source: base URL, credential headers, limits, resilience.

    ``clock``, ``sleep`` and ``jitter`` are seams for tests; the defaults are the real ones.
    """

    def __init__(
        self,
        *,
        source: str,
        base_url: str,
        headers: Mapping[str, str],
        settings: HTTPSettings,
        read_error: ErrorReader | None = None,
        transport: InjectedTransport | None = None,
        client: str = "httptools",
        observers: tuple[CallObserver, ...] = (),
        clock: Callable[[], float] = time.monotonic,
        sleep: Sleep = asyncio.sleep,
        jitter: Callable[[], float] = random.random,
    ) -> None:
        self.source = source
        self.settings = settings
        self._read_error = read_error
        self._observers = observers
        self._clock = clock
        self._sleep = sleep
        self._jitter = jitter
        self._slots = Slots(settings.max_concurrency)
        self.breaker = CircuitBreaker(
            source=source,
            failures=settings.breaker_failures,
            cooldown_s=settings.breaker_cooldown_s,
            clock=clock,
        )
        self.retry_budget = RetryBudget(clock=clock)
        base = base_url.rstrip("/")
        all_headers = {"user-agent": DEFAULT_USER_AGENT, "accept": "application/json", **headers}
        self._transport: Transport = make_transport(
            client,
            base_url=base,
            headers=all_headers,
            max_connections=settings.max_concurrency,
            options=settings.transport,
            httpx_transport=transport,
        )

    @property
    def circuit_state(self) -> str:
        """``closed``, ``open`` or ``half_open`` (the readiness probe and metrics read this)."""
        return self.breaker.state.value

    async def aclose(self) -> None:
        await self._transport.aclose()

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
        idempotent: bool | None = None,
    ) -> Any:
        """Send one request and return its decoded JSON body, or raise an UpstreamError.

        Args:
            template: the path with ``{}`` where each of ``segments`` goes, percent-encoded; it
                also names the endpoint in observations, so no id reaches a label or a log.
            idempotent: whether a retry is safe; by default only ``GET`` is. Writes are sent
                once, whatever happens, so a decision is never recorded twice by us.
        """
        call = _Call(
            method=method,
            template=template,
            path=template.format(*(encode_segment(s) for s in segments)),
            # One rule for every transport: a None parameter is left out (httpx would send "k=").
            params={k: v for k, v in params.items() if v is not None} if params else None,
            json=json,
            headers=headers,
            native_id=native_id,
        )
        budget = call_budget.get()
        if budget is not None:
            budget.spend(self.source)
        safe_to_retry = method == "GET" if idempotent is None else idempotent
        attempts = 1 + (max(0, self.settings.retries) if safe_to_retry else 0)
        self.retry_budget.record_call()
        attempt = 1
        while True:
            try:
                return await self._attempt(call, attempt)
            except UpstreamError as error:
                if attempt >= attempts:
                    raise
                delay = self._retry_delay(error, attempt)
                if delay is None:
                    raise
            await self._sleep(delay)
            attempt += 1

    def _retry_delay(self, error: UpstreamError, attempt: int) -> float | None:
        """How long to wait before retrying after ``error``, or None to give up now."""
        if not error.retryable or self.breaker.state is not CircuitState.CLOSED:
            return None
        if error.retry_after is not None:
            delay = error.retry_after
            if delay > MAX_RETRY_AFTER_S:
                return None
        else:
            delay = self._jitter() * min(BACKOFF_CAP_S, BACKOFF_BASE_S * 2 ** (attempt - 1))
        left = time_left(self._clock)
        if left is not None and delay >= left:
            return None
        if not self.retry_budget.try_spend():
            return None
        return delay

    async def _attempt(self, call: _Call, attempt: int) -> Any:
        native_id = call.native_id
        left = time_left(self._clock)
        if left is not None and left <= 0:
            raise UpstreamTimeout(
                "the request's deadline has passed", source=self.source, native_id=native_id
            )
        admission = self.breaker.admit()
        if admission is Admission.REFUSED:
            raise CircuitOpen(
                "circuit open, failing fast",
                source=self.source,
                native_id=native_id,
                retry_after=self.breaker.retry_in(),
            )
        try:
            # Waiting for a connection slot is bounded by the deadline, not by the attempt; a
            # free slot is taken at once, with no timer.
            await self._slots.acquire(left)
        except BaseException as exc:
            self.breaker.settle(admission, None)
            if isinstance(exc, TimeoutError):
                raise UpstreamTimeout(
                    "the request's deadline passed while waiting for a connection",
                    source=self.source,
                    native_id=native_id,
                ) from None
            raise
        try:
            return await self._send(call, attempt, admission)
        finally:
            self._slots.release()

    async def _send(self, call: _Call, attempt: int, admission: Admission) -> Any:
        native_id = call.native_id
        left = time_left(self._clock)
        if left is not None and left <= 0:
            self.breaker.settle(admission, None)
            raise UpstreamTimeout(
                "the request's deadline has passed", source=self.source, native_id=native_id
            )
        budget = self.settings.timeout_s if left is None else min(self.settings.timeout_s, left)
        started = time.perf_counter()
        status: int | None = None
        succeeded: bool | None = None
        deadline_hit = False
        error: UpstreamError | None = None
        try:
            try:
                sending = self._transport.send(
                    call.method,
                    call.path,
                    params=call.params,
                    json=call.json,
                    headers=call.headers,
                    timeout_s=budget,
                    connect_timeout_s=min(self.settings.connect_timeout_s, budget),
                )
                if self._transport.bounds_whole_exchange:
                    response = await sending
                else:
                    # httpx's and aiohttp's timeouts are per read; this bounds the whole
                    # attempt, slow bodies too.
                    async with asyncio.timeout(budget):
                        response = await sending
            except (TimeoutError, TransportTimeout) as exc:
                left_now = time_left(self._clock)
                deadline_hit = left_now is not None and left_now <= _DEADLINE_SLACK_S
                detail = "the request's deadline ran out" if deadline_hit else None
                raise UpstreamTimeout(detail, source=self.source, native_id=native_id) from exc
            except TransportError as exc:
                raise UpstreamUnavailable(
                    str(exc), source=self.source, native_id=native_id
                ) from exc
            status = response.status
            body = self._decode(response, native_id)
            succeeded = True
            return body
        except UpstreamError as exc:
            error = exc
            if not _counts_against_breaker(exc):
                succeeded = True  # the upstream answered; the answer was just not a result
            elif not deadline_hit:
                succeeded = False  # a timeout at the deadline is no verdict on the upstream
            raise
        finally:
            self.breaker.settle(admission, succeeded)
            if succeeded is not None or error is not None:  # no record for a cancelled attempt
                record = CallRecord(
                    source=self.source,
                    method=call.method,
                    template=call.template,
                    status=status,
                    duration_s=time.perf_counter() - started,
                    error_code=error.code if error else None,
                    attempt=attempt,
                )
                for observer in self._observers:
                    observer(record)

    def _decode(self, response: TransportResponse, native_id: str | None) -> Any:
        status = response.status
        success = 200 <= status < 300
        try:
            body: Any = loads_json(response.body)
        except ValueError:
            body = None
            if success:
                raise UpstreamBadResponse(
                    "the body is not JSON",
                    source=self.source,
                    native_id=native_id,
                    http_status=status,
                ) from None
        if success:
            return body
        error = self._read_error(response, body) if self._read_error else None
        if error is None:
            error = error_for_status(status)()
        error.source = self.source
        error.native_id = native_id
        error.http_status = status
        waits = isinstance(error, UpstreamRateLimited) or status == 503
        if waits and error.retry_after is None:
            error.retry_after = parse_retry_after(response.headers.get("retry-after"))
        raise error
