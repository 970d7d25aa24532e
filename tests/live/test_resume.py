"""Resumable subscriptions: a client that was away for N changes resumes ``after`` its last
position (or with ``Last-Event-ID`` over SSE) and gets exactly those N, in order, then live ones;
a position the log no longer holds is RESUME_TOO_OLD, never a silent gap."""

from __future__ import annotations

import json
from contextlib import asynccontextmanager
from typing import TYPE_CHECKING, Any

import pytest

from gateway.live.changelog import LogBounds, MemoryLog, ResumeTooOld, parse_position
from sandbox.progress import Progress
from sandbox.webhooks import WebhookEvent
from tests.live.support import Live, TransportWS, eventually, live_gateway, send_webhook

if TYPE_CHECKING:
    from collections.abc import AsyncIterator

    import httpx

    from sandbox import Sandbox

CHANGES = (
    "subscription($after: String) { "
    'executionChanges(filter: {sources: ["tl"]}, after: $after) { id status } }'
)


# -- the log alone ------------------------------------------------------------------------


class Clock:
    def __init__(self) -> None:
        self.now = 1_000_000.0

    def __call__(self) -> float:
        return self.now


def test_positions_follow_each_other_within_one_millisecond_and_across() -> None:
    clock = Clock()
    log = MemoryLog(LogBounds(max_entries=10, max_age_s=60), clock)
    first = log.append("executions", {"n": 1})
    second = log.append("executions", {"n": 2})
    clock.now += 0.5
    third = log.append("executions", {"n": 3})
    assert [parse_position(p) for p in (first, second, third)] == [
        (1_000_000_000, 0),
        (1_000_000_000, 1),
        (1_000_000_500, 0),
    ]
    assert log.after("executions", first) == [{"n": 2}, {"n": 3}]
    assert log.after("executions", third) == []


def test_a_position_trimmed_by_count_or_age_or_never_issued_is_too_old() -> None:
    clock = Clock()
    log = MemoryLog(LogBounds(max_entries=2, max_age_s=60), clock)
    positions = [log.append("approvals", {"n": n}) for n in range(3)]
    with pytest.raises(ResumeTooOld):
        log.after("approvals", positions[0])  # trimmed by count: what followed may be lost
    assert log.after("approvals", positions[1]) == [{"n": 2}]
    clock.now += 61
    assert log.after("approvals", positions[2]) == []  # the newest still says where it is
    with pytest.raises(ResumeTooOld):
        log.after("approvals", positions[1])  # trimmed by age
    with pytest.raises(ResumeTooOld):
        log.after("approvals", "999999999999-0")  # not issued by this log (another process)
    with pytest.raises(ResumeTooOld):
        log.after("executions", positions[2])  # nothing logged on that topic here


# -- over the wire ------------------------------------------------------------------------


def running_orchestrations(sandbox: Sandbox, count: int) -> list[str]:
    found = [
        native
        for native, run in sandbox.truthlocks.orchestrations.items()
        if run.get("status") == "running"
    ]
    assert len(found) >= count, found
    return found[:count]


async def finish(live: Live, native: str) -> None:
    """The upstream finishes ``native`` and says so (a signed webhook): one change published."""
    published = live.hub.stats.published
    assert Progress(live.sandbox).finish("truthlocks", native)
    event = WebhookEvent("truthlocks", native, "orchestration.completed")
    answer = await send_webhook(live, event, event_id=f"evt_{native}")
    assert answer.json() == {"outcome": "accepted"}
    await eventually(lambda: live.hub.stats.published == published + 1, what="published")


async def subscribed(live: Live, count: int = 1) -> None:
    await eventually(
        lambda: live.hub.bus.subscribers("executions") == count,  # type: ignore[attr-defined]
        what="the subscription is listening",
    )


async def next_change(client: TransportWS) -> tuple[str, str]:
    """The next change's (execution id, position)."""
    message = await client.receive()
    assert message["type"] == "next", message
    payload = message["payload"]
    assert "errors" not in payload, payload
    return payload["data"]["executionChanges"]["id"], payload["extensions"]["position"]


async def test_a_client_away_for_n_changes_resumes_with_exactly_those_then_live_ones(
    sandbox: Sandbox, sandbox_url: str
) -> None:
    async with live_gateway(sandbox, sandbox_url) as live:
        runs = running_orchestrations(sandbox, 5)
        async with TransportWS.open(live.ws_url) as client:
            await client.subscribe("1", CHANGES)
            await subscribed(live)
            await finish(live, runs[0])
            seen, last = await next_change(client)
            assert seen == f"tl:{runs[0]}"
        for native in runs[1:4]:  # away for three changes
            await finish(live, native)
        async with TransportWS.open(live.ws_url) as client:
            await client.subscribe("2", CHANGES, {"after": last})
            replayed = [await next_change(client) for _ in range(3)]
            assert [i for i, _ in replayed] == [f"tl:{n}" for n in runs[1:4]]
            positions = [parse_position(p) or (0, 0) for _, p in replayed]
            assert positions == sorted(positions)
            assert positions[0] > parse_position(last)  # type: ignore[operator]
            await finish(live, runs[4])
            assert (await next_change(client))[0] == f"tl:{runs[4]}"  # live, nothing doubled
        assert live.hub.stats.resumed == 1


@asynccontextmanager
async def sse(
    http: httpx.AsyncClient, headers: dict[str, str] | None = None
) -> AsyncIterator[AsyncIterator[dict[str, Any]]]:
    """An SSE subscription to CHANGES; yields its events ({id, event, data})."""
    body = {"query": CHANGES}
    async with http.stream(
        "POST", "/graphql", json=body, headers={"accept": "text/event-stream", **(headers or {})}
    ) as response:
        assert response.status_code == 200

        async def events() -> AsyncIterator[dict[str, Any]]:
            event: dict[str, Any] = {}
            async for line in response.aiter_lines():
                if not line:
                    if "data" in event:
                        yield event
                    event = {}
                    continue
                name, _, value = line.partition(": ")
                if name in ("id", "event"):
                    event[name] = value
                elif name == "data":
                    event["data"] = json.loads(value) if value else None

        yield events()


async def test_sse_resumes_from_last_event_id(sandbox: Sandbox, sandbox_url: str) -> None:
    async with live_gateway(sandbox, sandbox_url) as live:
        runs = running_orchestrations(sandbox, 4)
        async with sse(live.http) as events:
            await subscribed(live)
            await finish(live, runs[0])
            first = await anext(events)
            assert first["event"] == "next"
            assert first["id"] == first["data"]["extensions"]["position"]
        await eventually(lambda: live.hub.open_subscriptions == 0, what="the stream closed")
        for native in runs[1:3]:
            await finish(live, native)
        async with sse(live.http, {"last-event-id": first["id"]}) as events:
            replayed = [await anext(events) for _ in range(2)]
            ids = [e["data"]["data"]["executionChanges"]["id"] for e in replayed]
            assert ids == [f"tl:{n}" for n in runs[1:3]]
            await finish(live, runs[3])
            live_one = await anext(events)
            assert live_one["data"]["data"]["executionChanges"]["id"] == f"tl:{runs[3]}"
            assert parse_position(live_one["id"]) > parse_position(replayed[1]["id"])  # type: ignore[operator]


async def test_a_position_past_the_logs_bound_is_resume_too_old(
    sandbox: Sandbox, sandbox_url: str
) -> None:
    async with live_gateway(sandbox, sandbox_url, live={"resume_max_entries": 2}) as live:
        runs = running_orchestrations(sandbox, 4)
        async with TransportWS.open(live.ws_url) as client:
            await client.subscribe("1", CHANGES)
            await subscribed(live)
            await finish(live, runs[0])
            _, last = await next_change(client)
        for native in runs[1:4]:  # three more: the log keeps two, so one after ``last`` is gone
            await finish(live, native)
        async with TransportWS.open(live.ws_url) as client:
            await client.subscribe("2", CHANGES, {"after": last})
            refused = await client.receive()
            assert refused["type"] == "next", refused
            assert refused["payload"]["errors"][0]["extensions"]["code"] == "RESUME_TOO_OLD"
            assert await client.receive() == {"id": "2", "type": "complete"}
            await client.subscribe("3", CHANGES, {"after": "not-a-position"})
            malformed = await client.receive()
            assert malformed["payload"]["errors"][0]["extensions"]["code"] == "BAD_USER_INPUT"
        assert live.hub.stats.resume_too_old == 1
        metrics = (await live.http.get("/metrics")).text
        assert "gateway_live_resume_too_old_total 1.0" in metrics
