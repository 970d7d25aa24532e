"""Outbound notifications: the changes the hub publishes, told to ``[[notifications]]`` targets.

The hub hands over each change with ``changed`` (a put on a bounded queue: it never waits). One
task turns changes into events (gateway/live/notify_events.py) and claims each event for each
target in the shared state (``add_once``: Redis ``SET NX`` with replicas, memory otherwise), so
only the replica that claims it sends it. Each target has its own bounded queue and a fixed number
of sender tasks: a slow or dead receiver fills its own queue, never the hub's path or another
target's. An attempt is bounded by the target's ``timeout_s``; a failed one is retried after a
doubling wait; what is still unsent after ``max_attempts`` is kept (the last ``KEPT``), counted and
logged once. Signing is the ``standardwebhooks`` library's: the receiver verifies with the same.
"""

from __future__ import annotations

import asyncio
import contextvars
import functools
import logging
import time
from collections import Counter, deque
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING

import aiohttp
import orjson
from standardwebhooks import Webhook

from adapters.registry import adapter_class
from gateway.core.scope import ClientScope
from gateway.live.notify_events import Change, Event, events_of, slack_text, standard_body
from gateway.state.base import StateUnavailable

if TYPE_CHECKING:
    from collections.abc import Awaitable, Callable, Mapping, Sequence

    from adapters.model import Execution
    from gateway.config import GatewayConfig, NotificationTarget
    from gateway.state.base import SharedState

__all__ = ["Notifier", "NotifyStats", "Undeliverable", "notifier_for"]

log = logging.getLogger("gateway.live.notify")

CHANGES_QUEUE = 10_000
"""Changes waiting to be read for events; past it a change is not told (counted)."""
TARGET_QUEUE = 1_000
"""Events waiting per target; past it an event for that target is dropped (counted, kept)."""
SENDERS = 2
"""Sender tasks per target: at most this many requests in flight to one receiver."""
KEPT = 1_000
"""Undeliverable events kept for an operator (the newest)."""
MAX_BACKOFF_S = 300.0
DRAIN_S = 2.0
"""How long shutdown waits for queued events to be sent."""
USER_AGENT = "execution-gateway-notifications"


@dataclass(frozen=True, slots=True)
class Undeliverable:
    """An event a target did not take: what, where, how often tried, the last error."""

    target: str
    webhook_id: str
    type: str
    source: str
    native_id: str
    attempts: int
    error: str
    at: float


@dataclass(frozen=True, slots=True)
class _Delivery:
    event: Event
    body: bytes


def notifier_for(config: GatewayConfig, state: SharedState) -> Notifier | None:
    """The notifier for ``config``'s targets (None without any). An event is claimed for as long
    as a webhook's id is remembered (``live.dedupe_ttl_s``)."""
    if not config.notifications:
        return None
    partitions = {s.name: adapter_class(s.kind).partition for s in config.sources}
    return Notifier(
        config.notifications, state, claim_ttl_s=config.live.dedupe_ttl_s, partitions=partitions
    )


class NotifyStats:
    """Per target: events sent, attempts failed, events undeliverable or dropped (queue full)."""

    def __init__(self) -> None:
        self.sent: Counter[str] = Counter()
        self.failed: Counter[str] = Counter()
        self.undeliverable: Counter[str] = Counter()
        self.dropped: Counter[str] = Counter()
        self.claimed_elsewhere: Counter[str] = Counter()
        self.changes_dropped = 0


class Notifier:
    def __init__(
        self,
        targets: Sequence[NotificationTarget],
        state: SharedState,
        *,
        claim_ttl_s: float,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
        wall_clock: Callable[[], float] = time.time,
        partitions: Mapping[str, Callable[[Execution], str | None]] | None = None,
    ) -> None:
        """``partitions``: each source's partition reader, for targets with a scope."""
        self.targets = tuple(targets)
        self._partitions = partitions or {}
        self.stats = NotifyStats()
        self.kept: deque[Undeliverable] = deque(maxlen=KEPT)
        self._state = state
        self._claim_ttl_s = claim_ttl_s
        self._sleep = sleep
        self._clock = wall_clock
        self._signers = {t.name: Webhook(t.secret) for t in self.targets}
        self._sources = (
            None
            if any(t.sources is None for t in self.targets)
            else frozenset().union(*(t.sources or () for t in self.targets))
        )
        self._session: aiohttp.ClientSession | None = None
        """Opened on the first delivery, inside the running loop (aiohttp's rule)."""
        self._changes: asyncio.Queue[Change] = asyncio.Queue(CHANGES_QUEUE)
        self._queues: dict[str, asyncio.Queue[_Delivery]] = {
            t.name: asyncio.Queue(TARGET_QUEUE) for t in self.targets
        }
        self._tasks: list[asyncio.Task[None]] = []
        self._closing = False

    @property
    def queued(self) -> dict[str, int]:
        return {name: queue.qsize() for name, queue in self._queues.items()}

    def changed(
        self, source: str, execution: Execution, previous: Execution | None, *, announce: bool
    ) -> None:
        """A change the hub published: queued for reading, never awaited."""
        if self._closing or (self._sources is not None and source not in self._sources):
            return
        self._start()
        change = Change(source, execution, previous, announce, self._clock())
        try:
            self._changes.put_nowait(change)
        except asyncio.QueueFull:
            self.stats.changes_dropped += 1
            log.warning(
                "notification queue full: a change is not told",
                extra={"source": source, "native_id": execution.native_id},
            )

    def _start(self) -> None:
        """The tasks, started with the first change (the hub runs in the server's loop)."""
        if self._tasks:
            return
        loop = asyncio.get_running_loop()
        fresh = contextvars.Context()  # a request's context (deadline, client) is not theirs
        self._tasks.append(loop.create_task(self._read_changes(), context=fresh.copy()))
        for target in self.targets:
            for index in range(SENDERS):
                self._tasks.append(
                    loop.create_task(
                        self._send_loop(target),
                        name=f"notify {target.name} {index}",
                        context=fresh.copy(),
                    )
                )

    async def _read_changes(self) -> None:
        while True:
            change = await self._changes.get()
            try:
                for event in await events_of(change, self._state, self._claim_ttl_s):
                    for target in self.targets:
                        if _wants(target, event, self._partitions):
                            await self._claim_and_queue(target, event)
            except Exception:  # one bad change must not stop the others being told
                log.exception("reading a change for notifications failed")
            finally:
                self._changes.task_done()

    async def _claim_and_queue(self, target: NotificationTarget, event: Event) -> None:
        """Queue ``event`` for ``target`` if this replica is the first to claim it. Shared state
        away: sent anyway (a receiver de-duplicates by ``webhook-id``; silence would be worse)."""
        try:
            claimed = await self._state.add_once(
                f"notify:sent:{target.name}:{event.webhook_id}", self._claim_ttl_s
            )
        except StateUnavailable:
            claimed = True
        if not claimed:
            self.stats.claimed_elsewhere[target.name] += 1
            return
        delivery = _Delivery(event, _body(target, event))
        try:
            self._queues[target.name].put_nowait(delivery)
        except asyncio.QueueFull:
            self.stats.dropped[target.name] += 1
            self._keep(target, event, 0, "queue full (the receiver is slow or down)")

    async def _send_loop(self, target: NotificationTarget) -> None:
        queue = self._queues[target.name]
        while True:
            delivery = await queue.get()
            try:
                await self._deliver(target, delivery)
            except Exception:  # a sender must outlive any one event
                log.exception("sending a notification failed", extra={"target": target.name})
            finally:
                queue.task_done()

    async def _deliver(self, target: NotificationTarget, delivery: _Delivery) -> None:
        event = delivery.event
        error = ""
        for attempt in range(1, target.max_attempts + 1):
            error = await self._attempt(target, delivery)
            if not error:
                self.stats.sent[target.name] += 1
                return
            self.stats.failed[target.name] += 1
            if attempt < target.max_attempts:
                await self._sleep(min(target.backoff_s * 2 ** (attempt - 1), MAX_BACKOFF_S))
        self.stats.undeliverable[target.name] += 1
        self._keep(target, event, target.max_attempts, error)

    async def _attempt(self, target: NotificationTarget, delivery: _Delivery) -> str:
        """One signed POST; ``""`` when the receiver took it (2xx), else what went wrong. The
        answer's body is never read."""
        webhook_id = delivery.event.webhook_id
        now = datetime.fromtimestamp(self._clock(), tz=UTC)
        headers = {
            "content-type": "application/json",
            "user-agent": USER_AGENT,
            "webhook-id": webhook_id,
            "webhook-timestamp": str(int(now.timestamp())),
            "webhook-signature": self._signers[target.name].sign(webhook_id, now, delivery.body),
        }
        if self._session is None:
            # A connection per delivery: a receiver that closes idle keep-alive connections
            # would otherwise fail the next POST on a stale one (aiohttp does not resend a POST),
            # turning it into a retry minutes later and out of order. Deliveries are few.
            self._session = aiohttp.ClientSession(
                connector=aiohttp.TCPConnector(force_close=True), trust_env=True
            )
        try:
            async with (
                asyncio.timeout(target.timeout_s),
                self._session.post(
                    target.url, data=delivery.body, headers=headers, allow_redirects=False
                ) as response,
            ):
                status = response.status
        except TimeoutError:
            return f"no answer within {target.timeout_s:g} s"
        except aiohttp.ClientError as exc:
            return f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
        return "" if 200 <= status < 300 else f"HTTP {status}"

    def _keep(self, target: NotificationTarget, event: Event, attempts: int, error: str) -> None:
        self.kept.append(
            Undeliverable(
                target.name,
                event.webhook_id,
                event.type,
                event.source,
                event.execution.native_id,
                attempts,
                error,
                self._clock(),
            )
        )
        log.warning(
            "notification not delivered",
            extra={
                "target": target.name,
                "webhook_id": event.webhook_id,
                "event": event.type,
                "source": event.source,
                "native_id": event.execution.native_id,
                "attempts": attempts,
                "error": error,
            },
        )

    async def aclose(self, drain_s: float = DRAIN_S) -> None:
        """Stop taking changes, give what is queued ``drain_s`` to go out, then stop."""
        self._closing = True
        if self._tasks:
            waiting = [self._changes.join(), *(q.join() for q in self._queues.values())]
            try:
                async with asyncio.timeout(drain_s):
                    await asyncio.gather(*waiting)
            except TimeoutError:
                left = self._changes.qsize() + sum(q.qsize() for q in self._queues.values())
                log.warning("notifications left unsent at shutdown", extra={"count": left})
            for task in self._tasks:
                task.cancel()
            await asyncio.gather(*self._tasks, return_exceptions=True)
            self._tasks.clear()
        if self._session is not None:
            await self._session.close()


def _wants(
    target: NotificationTarget,
    event: Event,
    partitions: Mapping[str, Callable[[Execution], str | None]],
) -> bool:
    if event.type not in target.events:
        return False
    if target.sources is not None and event.source not in target.sources:
        return False
    scope = _scope_of(target)
    if scope is None:
        return True
    return scope.allows(event.source, event.execution, partitions.get(event.source, _none))


@functools.lru_cache(maxsize=64)
def _scope_of(target: NotificationTarget) -> ClientScope | None:
    """The target's scope, built once (a target is frozen and hashable)."""
    if target.scope is None:
        return None
    return ClientScope.of({name: "*" if p is None else p for name, p in target.scope})


def _none(execution: Execution) -> str | None:
    return None


def _body(target: NotificationTarget, event: Event) -> bytes:
    if target.format == "slack":
        return orjson.dumps({"text": slack_text(event)})
    moment = datetime.fromtimestamp(event.seen_at, tz=UTC)
    return orjson.dumps(standard_body(event, moment.isoformat().replace("+00:00", "Z")))
