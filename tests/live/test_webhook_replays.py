"""Replays and refusals on ``POST /webhooks/{source}``, through the gateway served by uvicorn.

A captured delivery replayed any number of times is accepted once: the dedupe key is the id in
the signed body (never ``x-velt-event-id``), and the signed time bounds how long a replay can
come back. Upstream reads are counted by the sandbox; Redis keys are read from a real
redis-server.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import time
from typing import TYPE_CHECKING, Any

import pytest
import redis.asyncio as redis

from sandbox.webhooks import SANDBOX_WEBHOOK_SECRETS, WebhookEvent, signed_delivery
from tests.live.support import KINDS, eventually, live_gateway, running_id
from tests.replicas.test_live_replicas import shared

if TYPE_CHECKING:
    import httpx

    from sandbox import Sandbox
    from tests.live.support import Live
    from tests.redis_server import RedisServer

pytestmark = pytest.mark.e2e

HOUR_S = 3600
SIGNATURE_HEADERS = {
    "rotavision": "x-rotavision-signature",
    "velt": "x-velt-signature",
    "truthlocks": "x-truthlocks-signature",
}


def iso(at: float) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(at))


def event_body(kind: str, native_id: str, event_id: str, sent_at: Any) -> bytes:
    """The kind's documented event, at ``sent_at`` (seconds, or as given when not a number)."""
    if kind == "velt":
        stamp = int(sent_at * 1000) if isinstance(sent_at, float) else sent_at
        body: dict[str, Any] = {
            "eventId": event_id,
            "seq": 1,
            "type": "execution.completed",
            "stepId": None,
            "timestamp": stamp,
            "executionId": native_id,
            "correlationId": None,
            "data": {},
        }
    elif kind == "rotavision":
        stamp = iso(sent_at) if isinstance(sent_at, float) else sent_at
        body = {
            "id": event_id,
            "type": "workflow.completed",
            "created_at": stamp,
            "data": {"execution_id": native_id},
        }
    else:
        stamp = iso(sent_at) if isinstance(sent_at, float) else sent_at
        body = {
            "event_id": event_id,
            "event_type": "orchestration.completed",
            "payload": {"orchestration_id": native_id},
            "timestamp": stamp,
        }
    return json.dumps(body, separators=(",", ":")).encode()


def signature(kind: str, body: bytes) -> str:
    secret = SANDBOX_WEBHOOK_SECRETS[kind].encode()
    return "sha256=" + hmac.new(secret, body, hashlib.sha256).hexdigest()


async def post(live: Live, kind: str, body: bytes, headers: Any = None) -> httpx.Response:
    if headers is None:
        headers = {SIGNATURE_HEADERS[kind]: signature(kind, body)}
    return await live.http.post(f"/webhooks/{KINDS[kind]}", content=body, headers=headers)


async def settled(live: Live) -> None:
    await eventually(lambda: not live.hub._refreshing, what="re-reads finished")


async def replay_with_forged_event_ids(
    live: Live, body: bytes, headers: dict[str, str], n: int
) -> list[int]:
    codes = []
    for attempt in range(n):
        forged = {**headers, "x-velt-event-id": f"evt_forged_{attempt}", "x-velt-attempt": "0"}
        codes.append(
            (await live.http.post("/webhooks/velt", content=body, headers=forged)).status_code
        )
    return codes


async def test_a_velt_delivery_replayed_with_new_event_id_headers_is_accepted_once(
    live: Live,
) -> None:
    event = WebhookEvent("velt", running_id(live.sandbox, "velt"), "execution.completed")
    body, headers = signed_delivery(event, SANDBOX_WEBHOOK_SECRETS["velt"], event_id="evt_captured")
    reads = live.reads("velt")
    codes = await replay_with_forged_event_ids(live, body, headers, 300)
    await settled(live)
    assert codes == [202] + [200] * 299
    assert live.reads("velt") == reads + 1
    assert live.hub.stats.webhooks[("velt", "accepted")] == 1
    assert live.hub.stats.webhooks[("velt", "duplicate")] == 299


async def test_the_velt_replay_across_two_replicas_keeps_one_short_lived_redis_key(
    sandbox: Sandbox, sandbox_url: str, redis_server: RedisServer
) -> None:
    sections = shared(redis_server.url)
    async with (
        live_gateway(sandbox, sandbox_url, **sections) as a,
        live_gateway(sandbox, sandbox_url, **sections) as b,
        redis.from_url(redis_server.url) as client,
    ):
        event = WebhookEvent("velt", running_id(sandbox, "velt"), "execution.completed")
        body, headers = signed_delivery(event, SANDBOX_WEBHOOK_SECRETS["velt"], event_id="evt_cap")
        reads = a.reads("velt")
        codes = []
        for replica in (a, b) * 100:
            codes += await replay_with_forged_event_ids(replica, body, headers, 1)
        await settled(a)
        await settled(b)
        assert sorted(codes) == [200] * 199 + [202]
        assert a.reads("velt") == reads + 1
        keys = [key async for key in client.scan_iter(match="*webhook:*")]
        assert keys == [b"gateway:webhook:velt:evt_cap"]
        # Kept while a replay could still be fresh: Velt's hour, plus the skew margin.
        assert 0 < await client.pttl(keys[0]) <= (HOUR_S + 300) * 1000


@pytest.mark.parametrize(
    ("kind", "age_s"),
    [
        ("velt", 2 * HOUR_S),
        ("velt", -HOUR_S),
        ("rotavision", 3 * 24 * HOUR_S),
        ("truthlocks", 3 * 24 * HOUR_S),
        ("rotavision", -HOUR_S),
    ],
)
async def test_a_signed_event_outside_its_window_is_refused_as_stale(
    live: Live, kind: str, age_s: int
) -> None:
    body = event_body(kind, running_id(live.sandbox, kind), "evt_old", time.time() - age_s)
    reads = live.reads(kind)
    response = await post(live, kind, body)
    assert (response.status_code, response.json()) == (401, {"outcome": "stale"})
    await settled(live)
    assert live.reads(kind) == reads
    assert live.hub.stats.webhooks[(KINDS[kind], "stale")] == 1


@pytest.mark.parametrize(
    ("kind", "age_s"),
    [("velt", HOUR_S / 2), ("velt", -60), ("rotavision", 40 * HOUR_S), ("truthlocks", HOUR_S)],
)
async def test_a_late_retry_inside_the_window_is_accepted(
    live: Live, kind: str, age_s: float
) -> None:
    body = event_body(kind, running_id(live.sandbox, kind), "evt_late", time.time() - age_s)
    reads = live.reads(kind)
    assert (await post(live, kind, body)).status_code == 202
    await settled(live)
    assert live.reads(kind) == reads + 1


@pytest.mark.parametrize(
    ("kind", "stamp"), [("velt", "2026-02-01T10:30:00Z"), ("rotavision", "yesterday")]
)
async def test_an_unreadable_signed_time_is_400(live: Live, kind: str, stamp: str) -> None:
    body = event_body(kind, running_id(live.sandbox, kind), "evt_odd", stamp)
    response = await post(live, kind, body)
    assert (response.status_code, response.json()) == (400, {"outcome": "unreadable"})


@pytest.mark.parametrize("kind", sorted(KINDS))
async def test_two_signature_headers_are_refused_whichever_is_valid(live: Live, kind: str) -> None:
    body = event_body(kind, running_id(live.sandbox, kind), "evt_twice", time.time())
    header, good, bad = SIGNATURE_HEADERS[kind], signature(kind, body), "sha256=" + "0" * 64
    reads = live.reads(kind)
    for pair in ([good, bad], [bad, good], [good, good]):
        response = await post(live, kind, body, [(header, value) for value in pair])
        assert (response.status_code, response.json()) == (401, {"outcome": "bad_signature"})
    await settled(live)
    assert live.reads(kind) == reads
    assert (await post(live, kind, body)).status_code == 202


@pytest.mark.parametrize("kind", sorted(KINDS))
async def test_every_malformed_signature_is_refused_over_http(live: Live, kind: str) -> None:
    body = event_body(kind, running_id(live.sandbox, kind), "evt_forms", time.time())
    good = signature(kind, body)
    digest = good.removeprefix("sha256=")
    flipped = digest[:-2] + f"{int(digest[-2:], 16) ^ 1:02x}"
    forms = [
        "sha256=",
        "sha256=" + digest[:-1],
        "sha256=" + digest + "0",
        "SHA256=" + digest,
        "sha256=" + digest.upper(),
        "sha256=" + flipped,
        f"{good},{good}",
    ]
    if kind != "truthlocks":
        forms.append(digest)  # the bare digest is Truthlocks' form only
    reads = live.reads(kind)
    for form in forms:
        response = await post(live, kind, body, {SIGNATURE_HEADERS[kind]: form})
        assert response.status_code == 401, form
    await settled(live)
    assert live.reads(kind) == reads
    assert live.hub.stats.webhooks[(KINDS[kind], "bad_signature")] == len(forms)
    assert (await post(live, kind, body)).status_code == 202


async def test_refusals_are_rate_limited_and_logged_sampled(
    live: Live, caplog: pytest.LogCaptureFixture
) -> None:
    body = event_body("velt", running_id(live.sandbox, "velt"), "evt_flood", time.time())
    forged = {"x-velt-signature": "sha256=" + "0" * 64}
    caplog.set_level(logging.WARNING, logger="gateway.live.webhooks")
    responses = [await post(live, "velt", body, forged) for _ in range(40)]
    codes = [response.status_code for response in responses]
    refused, limited = codes.count(401), codes.count(429)
    assert refused + limited == 40
    assert 20 <= refused <= 30  # the burst, plus one a second refilled while this ran
    assert codes[:20] == [401] * 20
    assert all(int(r.headers["retry-after"]) >= 1 for r in responses if r.status_code == 429)
    stats = live.hub.stats.webhooks
    assert (stats[("velt", "bad_signature")], stats[("velt", "rate_limited")]) == (refused, limited)
    lines = [r for r in caplog.records if r.getMessage().startswith("webhook refused")]
    assert 1 <= len(lines) <= 3  # one per 10 s for (source, outcome), however many refusals
    # The client's spent bucket does not stop a valid delivery.
    assert (await post(live, "velt", body)).status_code == 202


async def test_unknown_sources_are_not_metric_labels(live: Live) -> None:
    for _ in range(3):
        assert (await live.http.post("/webhooks/made-up", content=b"{}")).status_code == 404
    assert not [key for key in live.hub.stats.webhooks if key[0] == "made-up"]
