"""The engine's resilience: retries, backoff, budget, Retry-After, deadline and circuit breaker.

Upstreams are plain handlers behind ``httpx.MockTransport``; time is a fake clock whose ``sleep``
only moves it forward, so nothing here waits for or asserts on the wall clock.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

import httpx
import pytest

from adapters.engine import (
    BACKOFF_BASE_S,
    BACKOFF_CAP_S,
    CallObserver,
    CallRecord,
    HTTPSettings,
    SourceHTTP,
)
from adapters.errors import (
    ExecutionNotFound,
    UpstreamAuthFailed,
    UpstreamBadResponse,
    UpstreamError,
    UpstreamRateLimited,
    UpstreamRejected,
    UpstreamTimeout,
    UpstreamUnavailable,
)
from adapters.resilience import (
    CircuitOpen,
    RetryBudget,
    deadline_after,
    request_deadline,
    time_left,
)

BASE = "https://upstream.test"
PATH = "/v1/things/{}"

Reply = httpx.Response | Exception
Handler = Callable[[httpx.Request], Any]


class FakeClock:
    """``time.monotonic`` and ``asyncio.sleep`` stand-ins: sleeping moves the clock."""

    def __init__(self) -> None:
        self.now = 1000.0
        self.sleeps: list[float] = []

    def __call__(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds
        await asyncio.sleep(0)


class Upstream:
    """Answers with ``replies`` in turn (the last one repeats) and counts what reached it."""

    def __init__(self, *replies: Reply) -> None:
        self.replies = list(replies)
        self.requests: list[httpx.Request] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        reply = self.replies.pop(0) if len(self.replies) > 1 else self.replies[0]
        if isinstance(reply, Exception):
            raise reply
        return reply

    @property
    def calls(self) -> int:
        return len(self.requests)


def ok() -> httpx.Response:
    return httpx.Response(200, json={"id": "t1"})


def status(code: int, **headers: str) -> httpx.Response:
    return httpx.Response(code, json={}, headers=headers)


def make_http(
    handler: Handler,
    clock: FakeClock,
    *,
    retries: int = 2,
    breaker_failures: int = 0,
    breaker_cooldown_s: float = 10.0,
    timeout_s: float = 5.0,
    jitter: float = 1.0,
    records: list[CallRecord] | None = None,
) -> SourceHTTP:
    observers: tuple[CallObserver, ...] = ()
    if records is not None:
        observers = (lambda record: records.append(record),)
    return SourceHTTP(
        source="up",
        base_url=BASE,
        headers={"authorization": "Bearer up_secret"},
        settings=HTTPSettings(
            timeout_s=timeout_s,
            retries=retries,
            breaker_failures=breaker_failures,
            breaker_cooldown_s=breaker_cooldown_s,
        ),
        transport=httpx.MockTransport(handler),
        observers=observers,
        clock=clock,
        sleep=clock.sleep,
        jitter=lambda: jitter,
    )


def real_clock_http(handler: Handler, **settings: Any) -> SourceHTTP:
    """On the real clock, for the tests where a deadline must end a real wait."""
    return SourceHTTP(
        source="up",
        base_url=BASE,
        headers={},
        settings=HTTPSettings(**settings),
        transport=httpx.MockTransport(handler),
    )


async def get(http: SourceHTTP, native_id: str = "t1", **kwargs: Any) -> Any:
    return await http.request_json("GET", PATH, native_id, native_id=native_id, **kwargs)


async def test_a_none_parameter_is_left_out_of_the_query() -> None:
    clock, upstream = FakeClock(), Upstream(ok())
    http = make_http(upstream, clock)
    await get(http, params={"cursor": None, "limit": 5, "status": ["a", "b"]})
    await http.aclose()
    assert upstream.requests[0].url.query == b"limit=5&status=a&status=b"


# --- retries ----------------------------------------------------------------------------------


async def test_a_failing_read_is_tried_one_plus_retries_times_then_raises() -> None:
    clock, upstream, records = FakeClock(), Upstream(status(503)), list[CallRecord]()
    http = make_http(upstream, clock, retries=2, records=records)
    with pytest.raises(UpstreamUnavailable) as caught:
        await get(http)
    await http.aclose()
    assert upstream.calls == 3
    assert [r.attempt for r in records] == [1, 2, 3]
    assert caught.value.http_status == 503


async def test_a_read_that_recovers_returns_its_answer() -> None:
    clock, upstream = FakeClock(), Upstream(httpx.ConnectError("refused"), status(502), ok())
    http = make_http(upstream, clock)
    assert await get(http) == {"id": "t1"}
    await http.aclose()
    assert upstream.calls == 3


async def test_zero_retries_means_one_attempt() -> None:
    clock, upstream = FakeClock(), Upstream(status(503))
    http = make_http(upstream, clock, retries=0)
    with pytest.raises(UpstreamUnavailable):
        await get(http)
    await http.aclose()
    assert upstream.calls == 1
    assert clock.sleeps == []


@pytest.mark.parametrize(
    "reply",
    [
        pytest.param(status(503), id="503"),
        pytest.param(status(429), id="429"),
        pytest.param(status(504), id="504"),
        pytest.param(httpx.ConnectError("refused"), id="refused"),
        pytest.param(httpx.ReadTimeout("slow"), id="read-timeout"),
        pytest.param(httpx.RemoteProtocolError("reset"), id="reset"),
    ],
)
@pytest.mark.parametrize(
    ("method", "idempotent"),
    [
        pytest.param("POST", None, id="post"),
        pytest.param("POST", False, id="post-not-idempotent"),
        pytest.param("GET", False, id="get-marked-not-idempotent"),
    ],
)
async def test_writes_are_sent_once_whatever_the_error(
    reply: Reply, method: str, idempotent: bool | None
) -> None:
    clock, upstream = FakeClock(), Upstream(reply)
    http = make_http(upstream, clock, retries=5)
    with pytest.raises(UpstreamError):
        await http.request_json(method, PATH, "t1", json={"approved": True}, idempotent=idempotent)
    await http.aclose()
    assert upstream.calls == 1
    assert clock.sleeps == []


async def test_a_post_marked_idempotent_is_retried() -> None:
    clock, upstream = FakeClock(), Upstream(status(503), ok())
    http = make_http(upstream, clock)
    body = await http.request_json("POST", "/v2/get", json={"data": {}}, idempotent=True)
    await http.aclose()
    assert body == {"id": "t1"}
    assert upstream.calls == 2


@pytest.mark.parametrize(
    ("reply", "error"),
    [
        pytest.param(status(404), ExecutionNotFound, id="404"),
        pytest.param(status(401), UpstreamAuthFailed, id="401"),
        pytest.param(status(400), UpstreamRejected, id="400"),
        pytest.param(httpx.Response(200, text="{"), UpstreamBadResponse, id="not-json"),
    ],
)
async def test_answers_that_a_retry_cannot_change_are_not_retried(
    reply: Reply, error: type[UpstreamError]
) -> None:
    clock, upstream = FakeClock(), Upstream(reply)
    http = make_http(upstream, clock, retries=3)
    with pytest.raises(error):
        await get(http)
    await http.aclose()
    assert upstream.calls == 1


async def test_backoff_doubles_from_the_base_up_to_the_cap() -> None:
    clock, upstream = FakeClock(), Upstream(status(503))
    http = make_http(upstream, clock, retries=7)
    http.retry_budget = RetryBudget(min_retries=100, clock=clock)
    with pytest.raises(UpstreamUnavailable):
        await get(http)
    await http.aclose()
    expected = [min(BACKOFF_CAP_S, BACKOFF_BASE_S * 2**n) for n in range(7)]
    assert clock.sleeps == pytest.approx(expected)
    assert clock.sleeps[-1] == pytest.approx(BACKOFF_CAP_S)


async def test_backoff_is_jittered_below_its_ceiling() -> None:
    clock, upstream = FakeClock(), Upstream(status(503))
    http = make_http(upstream, clock, retries=2, jitter=0.25)
    with pytest.raises(UpstreamUnavailable):
        await get(http)
    await http.aclose()
    assert clock.sleeps == pytest.approx([0.25 * BACKOFF_BASE_S, 0.25 * 2 * BACKOFF_BASE_S])


# --- the retry budget -------------------------------------------------------------------------


def test_the_budget_allows_a_minimum_plus_a_share_of_first_attempts() -> None:
    clock = FakeClock()
    budget = RetryBudget(ratio=0.2, min_retries=5, window_s=10.0, clock=clock)
    for _ in range(100):
        budget.record_call()
    granted = sum(budget.try_spend() for _ in range(40))
    assert granted == 25
    assert budget.exhausted == 15


def test_the_budget_refills_when_its_window_has_passed() -> None:
    clock = FakeClock()
    budget = RetryBudget(ratio=0.2, min_retries=5, window_s=10.0, clock=clock)
    assert sum(budget.try_spend() for _ in range(10)) == 5
    clock.now += 10.0
    assert budget.try_spend()


async def test_a_spent_budget_stops_retries_of_a_failing_upstream() -> None:
    clock, upstream, records = FakeClock(), Upstream(status(503)), list[CallRecord]()
    http = make_http(upstream, clock, retries=2, jitter=0.0, records=records)
    for _ in range(20):
        with pytest.raises(UpstreamUnavailable):
            await get(http)
    retries = sum(1 for r in records if r.attempt > 1)
    assert retries <= 5 + 0.2 * 20  # not 40: the upstream gets ~20 % more, not 3x
    assert http.retry_budget.exhausted > 0
    assert upstream.calls == 20 + retries
    clock.now += 10.0
    before = upstream.calls
    with pytest.raises(UpstreamUnavailable):
        await get(http)
    await http.aclose()
    assert upstream.calls - before == 3  # a new window, retries allowed again


# --- Retry-After ------------------------------------------------------------------------------


@pytest.mark.parametrize("code", [429, 503])
async def test_retry_after_is_waited_for_when_it_fits_in_the_deadline(code: int) -> None:
    clock, upstream = FakeClock(), Upstream(status(code, **{"retry-after": "2"}), ok())
    http = make_http(upstream, clock)
    with deadline_after(5.0, clock=clock):
        assert await get(http) == {"id": "t1"}
    await http.aclose()
    assert clock.sleeps == [2.0]
    assert upstream.calls == 2


@pytest.mark.parametrize("code", [429, 503])
async def test_retry_after_beyond_the_deadline_gives_up_at_once_with_the_hint(code: int) -> None:
    clock, upstream = FakeClock(), Upstream(status(code, **{"retry-after": "3"}), ok())
    http = make_http(upstream, clock)
    with deadline_after(2.0, clock=clock), pytest.raises(UpstreamError) as caught:
        await get(http)
    await http.aclose()
    assert caught.value.retry_after == 3.0
    assert caught.value.retryable
    assert upstream.calls == 1
    assert clock.sleeps == []


async def test_a_long_retry_after_is_not_waited_for_even_without_a_deadline() -> None:
    clock, upstream = FakeClock(), Upstream(status(429, **{"retry-after": "60"}), ok())
    http = make_http(upstream, clock)
    with pytest.raises(UpstreamRateLimited) as caught:
        await get(http)
    await http.aclose()
    assert caught.value.retry_after == 60.0
    assert upstream.calls == 1


# --- the deadline -----------------------------------------------------------------------------


async def test_a_spent_deadline_raises_timeout_without_a_call() -> None:
    clock, upstream, records = FakeClock(), Upstream(ok()), list[CallRecord]()
    http = make_http(upstream, clock, records=records)
    with deadline_after(1.0, clock=clock):
        clock.now += 1.0
        with pytest.raises(UpstreamTimeout) as caught:
            await get(http)
    await http.aclose()
    assert upstream.calls == 0
    assert records == []
    assert "deadline" in str(caught.value)


async def test_backoff_never_sleeps_past_the_deadline() -> None:
    clock, upstream = FakeClock(), Upstream(status(503))
    http = make_http(upstream, clock, retries=5)
    with deadline_after(0.12, clock=clock), pytest.raises(UpstreamUnavailable):
        await get(http)
    await http.aclose()
    # 0.05 fits in 0.12; the next backoff (0.1) would end after the deadline, so it gives up.
    assert clock.sleeps == pytest.approx([BACKOFF_BASE_S])
    assert upstream.calls == 2


async def test_the_deadline_cuts_an_attempt_short() -> None:
    """A hanging upstream with a long configured timeout: the deadline ends the attempt."""
    started = asyncio.Event()

    async def hang(request: httpx.Request) -> httpx.Response:
        started.set()
        await asyncio.sleep(60)
        return ok()

    http = real_clock_http(hang, timeout_s=60.0, retries=2, breaker_failures=1)
    with deadline_after(0.05), pytest.raises(UpstreamTimeout) as caught:
        await get(http)
    await http.aclose()
    assert started.is_set()
    assert "deadline" in str(caught.value)
    # Cut short by the deadline, not by the upstream: the breaker does not hold it against it.
    assert http.circuit_state == "closed"


async def test_the_deadline_bounds_the_wait_for_a_connection_slot() -> None:
    """With every slot taken by a hanging call, the next call waits no longer than the deadline."""
    release = asyncio.Event()
    holding = asyncio.Event()
    calls = 0

    async def hang(request: httpx.Request) -> httpx.Response:
        nonlocal calls
        calls += 1
        holding.set()
        await release.wait()
        return ok()

    http = real_clock_http(hang, timeout_s=60.0, retries=0, max_concurrency=1)
    holder = asyncio.create_task(get(http))
    await holding.wait()
    with deadline_after(0.05), pytest.raises(UpstreamTimeout) as caught:
        await asyncio.wait_for(get(http, "t2"), 30)  # unbounded, it would fail here instead
    assert "waiting for a connection" in str(caught.value)
    assert calls == 1, "the waiting call never reached the upstream"
    release.set()
    assert await holder == {"id": "t1"}
    await http.aclose()
    assert http.circuit_state == "closed"


async def test_the_attempt_timeout_bounds_a_slow_body() -> None:
    async def trickle() -> Any:
        yield b'{"id": '
        await asyncio.sleep(60)
        yield b'"t1"}'

    def slow(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, content=trickle())

    clock = FakeClock()
    http = make_http(slow, clock, retries=0, timeout_s=0.05)
    with pytest.raises(UpstreamTimeout):
        await get(http)
    await http.aclose()


def test_an_inner_deadline_cannot_extend_an_outer_one() -> None:
    clock = FakeClock()
    assert request_deadline.get() is None
    with deadline_after(1.0, clock=clock) as outer:
        with deadline_after(5.0, clock=clock) as inner:
            assert inner == outer
            assert time_left(clock) == pytest.approx(1.0)
        with deadline_after(0.5, clock=clock) as shorter:
            assert shorter < outer
    assert request_deadline.get() is None
    assert time_left(clock) is None


# --- the circuit breaker ----------------------------------------------------------------------


async def test_the_breaker_opens_after_consecutive_failures_and_then_fails_fast() -> None:
    clock, upstream, records = FakeClock(), Upstream(status(503)), list[CallRecord]()
    http = make_http(
        upstream, clock, retries=0, breaker_failures=3, breaker_cooldown_s=10.0, records=records
    )
    for _ in range(3):
        assert http.circuit_state == "closed"
        with pytest.raises(UpstreamUnavailable):
            await get(http)
    assert http.circuit_state == "open"
    clock.now += 4.0
    for _ in range(5):
        with pytest.raises(CircuitOpen) as caught:
            await get(http)
    await http.aclose()
    assert upstream.calls == 3  # the five refusals never touched the network
    assert len(records) == 3
    assert caught.value.code == "UPSTREAM_UNAVAILABLE"
    assert caught.value.source == "up"
    assert caught.value.retry_after == pytest.approx(6.0)
    assert "circuit open" in str(caught.value)
    assert http.breaker.refused == 5
    assert http.breaker.transitions["open"] == 1


async def test_half_open_lets_exactly_one_probe_through_and_closes_on_success() -> None:
    clock = FakeClock()
    probing, release = asyncio.Event(), asyncio.Event()
    failing = True
    calls = 0

    async def handler(request: httpx.Request) -> httpx.Response:
        nonlocal calls
        calls += 1
        if failing:
            return status(503)
        probing.set()
        await release.wait()
        return ok()

    http = make_http(handler, clock, retries=0, breaker_failures=2, breaker_cooldown_s=10.0)
    for _ in range(2):
        with pytest.raises(UpstreamUnavailable):
            await get(http)
    assert http.circuit_state == "open"
    clock.now += 10.0
    assert http.circuit_state == "half_open"
    failing = False
    probe = asyncio.create_task(get(http))
    await probing.wait()
    with pytest.raises(CircuitOpen):
        await get(http)  # the probe is in flight: everyone else still fails fast
    assert calls == 3
    release.set()
    assert await probe == {"id": "t1"}
    assert http.circuit_state == "closed"
    assert await get(http) == {"id": "t1"}
    await http.aclose()
    assert dict(http.breaker.transitions) == {"open": 1, "half_open": 1, "closed": 1}


async def test_a_failed_probe_opens_the_circuit_again() -> None:
    clock, upstream = FakeClock(), Upstream(status(503))
    http = make_http(upstream, clock, retries=0, breaker_failures=1, breaker_cooldown_s=10.0)
    with pytest.raises(UpstreamUnavailable):
        await get(http)
    clock.now += 10.0
    with pytest.raises(UpstreamUnavailable) as caught:
        await get(http)  # the probe
    assert not isinstance(caught.value, CircuitOpen)
    assert http.circuit_state == "open"
    with pytest.raises(CircuitOpen):
        await get(http)
    await http.aclose()
    assert upstream.calls == 2
    assert http.breaker.transitions["open"] == 2


async def test_a_cancelled_probe_frees_the_probe_slot() -> None:
    clock = FakeClock()
    entered = asyncio.Event()
    hang = True

    async def handler(request: httpx.Request) -> httpx.Response:
        if hang:
            entered.set()
            await asyncio.sleep(60)
        return ok()

    http = make_http(handler, clock, retries=0, breaker_failures=1, breaker_cooldown_s=1.0)
    http.breaker.settle(http.breaker.admit(), False)  # one counted failure opens it
    clock.now += 1.0
    probe = asyncio.create_task(get(http))
    await entered.wait()
    probe.cancel()
    with pytest.raises(asyncio.CancelledError):
        await probe
    assert http.circuit_state == "half_open"
    hang = False
    assert await get(http) == {"id": "t1"}
    await http.aclose()
    assert http.circuit_state == "closed"


@pytest.mark.parametrize(
    "reply",
    [
        pytest.param(status(404), id="not-found"),
        pytest.param(status(401), id="auth"),
        pytest.param(status(400), id="rejected"),
        pytest.param(status(429), id="rate-limited"),
        pytest.param(httpx.Response(200, text="<html>"), id="bad-body"),
    ],
)
async def test_answers_from_a_reachable_upstream_do_not_open_the_breaker(reply: Reply) -> None:
    clock, upstream = FakeClock(), Upstream(reply)
    http = make_http(upstream, clock, retries=0, breaker_failures=2)
    for _ in range(5):
        with pytest.raises(UpstreamError):
            await get(http)
    await http.aclose()
    assert http.circuit_state == "closed"
    assert upstream.calls == 5


async def test_an_answer_resets_the_count_of_consecutive_failures() -> None:
    clock = FakeClock()
    upstream = Upstream(status(503), status(404), status(503), status(404), status(503))
    http = make_http(upstream, clock, retries=0, breaker_failures=2)
    for _ in range(5):
        with pytest.raises(UpstreamError):
            await get(http)
    await http.aclose()
    assert http.circuit_state == "closed"


@pytest.mark.parametrize(
    "reply",
    [
        pytest.param(httpx.ConnectError("refused"), id="refused"),
        pytest.param(httpx.ReadTimeout("slow"), id="timeout"),
        pytest.param(status(500), id="500"),
        pytest.param(status(504), id="504"),
    ],
)
async def test_transport_errors_timeouts_and_5xx_open_the_breaker(reply: Reply) -> None:
    clock, upstream = FakeClock(), Upstream(reply)
    http = make_http(upstream, clock, retries=0, breaker_failures=2)
    for _ in range(2):
        with pytest.raises(UpstreamError):
            await get(http)
    await http.aclose()
    assert http.circuit_state == "open"


async def test_a_timeout_well_before_the_deadline_counts_against_the_upstream() -> None:
    clock, upstream = FakeClock(), Upstream(httpx.ConnectTimeout("no answer"))
    http = make_http(upstream, clock, retries=0, breaker_failures=2)
    with deadline_after(30.0, clock=clock):
        for _ in range(2):
            with pytest.raises(UpstreamTimeout) as caught:
                await get(http)
    await http.aclose()
    assert "deadline" not in str(caught.value)
    assert http.circuit_state == "open"


async def test_zero_breaker_failures_disables_the_breaker() -> None:
    clock, upstream = FakeClock(), Upstream(status(503))
    http = make_http(upstream, clock, retries=0, breaker_failures=0)
    for _ in range(20):
        with pytest.raises(UpstreamUnavailable):
            await get(http)
    await http.aclose()
    assert http.circuit_state == "closed"
    assert upstream.calls == 20


async def test_a_breaker_opening_mid_retries_ends_them_with_the_real_error() -> None:
    clock, upstream = FakeClock(), Upstream(status(503))
    http = make_http(upstream, clock, retries=5, breaker_failures=2)
    with pytest.raises(UpstreamUnavailable) as caught:
        await get(http)
    await http.aclose()
    assert not isinstance(caught.value, CircuitOpen)
    assert caught.value.http_status == 503
    assert upstream.calls == 2
    assert clock.sleeps == pytest.approx([BACKOFF_BASE_S])


# --- what observers see -----------------------------------------------------------------------


async def test_each_attempt_is_one_record_with_its_number_and_the_template() -> None:
    clock = FakeClock()
    upstream = Upstream(httpx.ReadTimeout("slow"), status(503), ok())
    records: list[CallRecord] = []
    http = make_http(upstream, clock, records=records)
    await get(http, "a/b")
    await http.aclose()
    assert [(r.attempt, r.status, r.error_code) for r in records] == [
        (1, None, "UPSTREAM_TIMEOUT"),
        (2, 503, "UPSTREAM_UNAVAILABLE"),
        (3, 200, None),
    ]
    assert {r.template for r in records} == {PATH}
    assert {r.source for r in records} == {"up"}
    assert upstream.requests[0].url.raw_path == b"/v1/things/a%2Fb"


async def test_errors_never_carry_the_credentials_or_the_base_url() -> None:
    clock = FakeClock()
    replies: list[Reply] = [
        status(503),
        status(429, **{"retry-after": "60"}),
        httpx.ConnectError(f"cannot reach {BASE}"),
        httpx.Response(200, text="<html>"),
    ]
    for reply in replies:
        http = make_http(Upstream(reply), clock, retries=0, breaker_failures=1)
        for _ in range(2):  # the second one is refused by the open breaker
            with pytest.raises(UpstreamError) as caught:
                await get(http)
            assert "up_secret" not in str(caught.value)
            assert "upstream.test" not in str(caught.value)
            assert "upstream.test" not in repr(caught.value)
        await http.aclose()
