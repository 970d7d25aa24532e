"""The live use cases: what changed (re-read, compare, publish) and who is told (subscriptions).

Every change goes through ``observe``: the execution as the upstream now says it, compared with
the last version published; only a real change is published, on the execution's topic and on
``executions``, and each approval it shows pending for the first time is announced once on
``approvals``; each that stops waiting (decided, or its run ended) is announced on
``approvals_resolved`` (``_announce_resolved``). Webhooks (``hint``), polls and the gateway's
own decisions (which hint) only decide *when* to re-read.

Subscribers get model objects (GraphQL-free); gateway/schema/subscription.py turns them into
types. Each subscription holds one bus queue and, where no webhook covers its source, a share
of one poll; all of it is released when the subscriber leaves.

At shutdown the server calls ``shutting_down`` before it waits for connections to close: every
subscription on an HTTP stream then ends at once with a ``SHUTTING_DOWN`` error (the stream's
final message, so the stream and its connection close), and new ones are refused the same way.
WebSockets are closed by the server itself (code 1012, service restart).
"""

from __future__ import annotations

import asyncio
import contextvars
import logging
import time
from collections import Counter
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

from cachetools import LRUCache, TTLCache

from adapters.base import Capability
from adapters.errors import ExecutionNotFound, UpstreamError
from adapters.model import ApprovalStatus, ExecutionStatus
from adapters.registry import adapter_class
from gateway.core.actions import digest
from gateway.core.background import Background
from gateway.core.errors import GatewayError
from gateway.live.bus import Bus, BusSubscription, InProcessBus, SlowConsumer
from gateway.live.changelog import (
    POSITION_FIELD,
    LogBounds,
    MemoryLog,
    ResumeTooOld,
    parse_position,
)
from gateway.live.polling import SharedPoll
from gateway.live.stats import LiveStats
from gateway.live.topics import (
    APPROVALS,
    APPROVALS_RESOLVED,
    EXECUTIONS,
    approval_message,
    changed_message,
    execution_topic,
    version_of,
)
from gateway.state.base import StateUnavailable
from gateway.state.codec import execution_from_plain

if TYPE_CHECKING:
    from collections.abc import AsyncIterator, Awaitable, Callable, Iterator, Mapping

    from adapters.base import SourceAdapter
    from adapters.model import Approval, Execution
    from gateway.config import LiveConfig, SourceConfig
    from gateway.core.store import ExecutionStore
    from gateway.live.notify import Notifier
    from gateway.state.base import SharedState

__all__ = ["LiveHub", "resume_too_old_error", "shutting_down_error", "slow_consumer_error"]

log = logging.getLogger("gateway.live")

Key = tuple[str, str]
SNAPSHOTS = 10_000
"""Last published versions kept (per execution): what a burst of subscribers reads instead of
the upstream, and what a poll compares with."""
FEED_PAGE_SIZE = 50
MAX_READS_PER_ROUND = 20
"""Full re-reads one poll round of a source may make (list items without steps)."""


def shutting_down_error() -> GatewayError:
    return GatewayError(
        "This gateway is shutting down. Subscribe again (through the load balancer, another "
        "replica answers); the first message is the current state.",
        "SHUTTING_DOWN",
    )


def slow_consumer_error(error: SlowConsumer) -> GatewayError:
    return GatewayError(
        f"Dropped as a slow consumer: {error}. Resubscribe; the first message is the current "
        "state.",
        "SLOW_CONSUMER",
    )


def resume_too_old_error() -> GatewayError:
    return GatewayError(
        "Cannot resume after that position: the change log no longer holds it (it keeps "
        "live.resume_max_entries changes for live.resume_max_age_s), so changes may have been "
        "missed. Refetch the current state (executionFeed, pendingApprovals), then subscribe "
        "without `after`.",
        "RESUME_TOO_OLD",
    )


class LiveHub:
    def __init__(
        self,
        config: LiveConfig,
        sources: Mapping[str, SourceConfig],
        store: ExecutionStore,
        adapters: Mapping[str, SourceAdapter],
        *,
        bus: Bus | None = None,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
        shared: SharedState | None = None,
        wall_clock: Callable[[], float] = time.time,
        notifier: Notifier | None = None,
    ) -> None:
        self.notifier = notifier
        """Told each published change (docs/live.md, "Notifications"); never awaited."""
        self._shared = shared
        """Replicas' claims on poll rounds (Redis): each round of a watched thing is polled by
        one replica, whose change reaches the others through the bus."""
        self._wall_clock = wall_clock
        self.config = config
        self.bus: Bus = (
            bus if bus is not None else InProcessBus(MemoryLog(LogBounds.of(config), wall_clock))
        )
        self.stats = LiveStats()
        self.background = Background(level=logging.ERROR)
        self._sources = sources
        self._store = store
        self._adapters = adapters
        self._sleep = sleep
        self._snapshots: LRUCache[Key, tuple[str, Execution]] = LRUCache(maxsize=SNAPSHOTS)
        self._announced: TTLCache[tuple[str, str, str], bool] = TTLCache(
            maxsize=config.dedupe_max_entries, ttl=config.dedupe_ttl_s
        )
        self._resolved: TTLCache[tuple[str, str, str], bool] = TTLCache(
            maxsize=config.dedupe_max_entries, ttl=config.dedupe_ttl_s
        )
        self._refreshing: dict[Key, bool] = {}
        """Executions being re-read after a webhook; True once another webhook came meanwhile."""
        self.polls: dict[tuple[str, str, str], SharedPoll] = {}
        """("execution", source, id), ("feed", source, ""), ("approvals", source, "")."""
        self._open: Counter[str] = Counter()
        self._reading: set[BusSubscription] = set()
        """Subscriptions a subscriber is reading now: closed by ``shutting_down``."""
        self._shutting_down = False

    # -- what changed ---------------------------------------------------------------------

    def hint(self, source: str, native_id: str) -> None:
        """A webhook said ``native_id`` changed: re-read it soon, once per burst."""
        key = (source, native_id)
        if key in self._refreshing:
            self._refreshing[key] = True
            return
        self._refreshing[key] = False
        self.background.spawn(self._refresh(key), f"refresh {source}")

    async def _refresh(self, key: Key) -> None:
        source, native_id = key
        try:
            while True:
                self._refreshing[key] = False
                self.stats.refreshes += 1
                try:
                    execution = await self.read(source, native_id)
                except ExecutionNotFound:
                    self.stats.webhooks[(source, "unknown_execution")] += 1
                    log.info(
                        "webhook for an execution the upstream does not know",
                        extra={"source": source, "native_id": native_id},
                    )
                except UpstreamError as error:
                    log.warning(
                        "re-read after a webhook failed",
                        extra={"source": source, "native_id": native_id, "code": error.code},
                    )
                else:
                    await self.observe(source, execution)
                if not self._refreshing[key]:
                    return
        finally:
            self._refreshing.pop(key, None)

    async def read(self, source: str, native_id: str) -> Execution:
        """The execution as the upstream says it now (shared with concurrent queries)."""
        await self._store.invalidate(source, native_id)
        return await self._load(source, native_id)

    async def _load(self, source: str, native_id: str) -> Execution:
        """Through the store, in a fresh context: a read for a long-lived subscription must not
        inherit the request deadline of the HTTP stream that opened it."""
        fetch = contextvars.Context().run(self._store.load, source, native_id)
        return (await asyncio.shield(fetch))[0]

    async def observe(self, source: str, execution: Execution, *, announce: bool = True) -> bool:
        """Publish ``execution`` if it differs from the last version published; True if so."""
        key = (source, execution.native_id)
        version = version_of(execution)
        previous = self._snapshots.get(key)
        if previous is not None and previous[0] == version:
            return False
        self._snapshots[key] = (version, execution)
        message = changed_message(source, execution, version)
        await self.bus.publish(execution_topic(source, execution.native_id), message)
        await self.bus.publish(EXECUTIONS, message)
        self.stats.published += 1
        if self.notifier is not None:
            told = previous[1] if previous is not None else None
            self.notifier.changed(source, execution, told, announce=announce)
        for approval in execution.approvals:
            if approval.status is not ApprovalStatus.PENDING:
                continue
            marker = (source, execution.native_id, approval.key)
            if marker in self._announced:
                continue
            self._announced[marker] = True
            if announce:
                self.stats.approvals_announced += 1
                await self.bus.publish(
                    APPROVALS, approval_message(source, execution, approval.key, version)
                )
        await self._announce_resolved(
            source, execution, version, previous[1] if previous else None, announce=announce
        )
        return True

    async def _announce_resolved(
        self,
        source: str,
        execution: Execution,
        version: str,
        previous: Execution | None,
        *,
        announce: bool,
    ) -> None:
        """Announce each approval that no longer waits (decided, or on a run that ended) and
        that the last version published here did not already show so: once per approval in this
        process, and once across replicas where they share state (the replica that decided may
        never have published the waiting version; another may read the same change later)."""
        for approval in execution.approvals:
            if approval.status is ApprovalStatus.PENDING and not execution.is_terminal:
                continue
            if previous is not None and _no_longer_waiting(previous, approval.key):
                continue
            marker = (source, execution.native_id, approval.key)
            if marker in self._resolved:
                continue
            self._resolved[marker] = True
            if not announce or not await self._first_across_replicas(marker):
                continue
            self.stats.approvals_resolved += 1
            await self.bus.publish(
                APPROVALS_RESOLVED, approval_message(source, execution, approval.key, version)
            )

    async def _first_across_replicas(self, marker: tuple[str, str, str]) -> bool:
        """True unless another replica already announced this approval resolved."""
        if self._shared is None:
            return True
        try:
            return await self._shared.add_once(
                f"live:resolved:{digest(*marker)}", self.config.dedupe_ttl_s
            )
        except StateUnavailable:
            return True  # announced twice rather than never

    async def snapshot(
        self, source: str, native_id: str, version: str, carried: object = None
    ) -> Execution:
        """The execution a message announced: kept in memory, else the one the message carried
        (published by another replica), else read through the store (an evicted one)."""
        found = self._snapshots.get((source, native_id))
        if found is not None and found[0] == version:
            return found[1]
        if carried is not None:
            execution = execution_from_plain(carried)
            if execution is not None and version_of(execution) == version:
                self._snapshots[(source, native_id)] = (version, execution)
                return execution
        return await self._load(source, native_id)

    # -- who is told ----------------------------------------------------------------------

    async def execution_changes(
        self,
        client: str,
        source: str,
        native_id: str,
        on_drop: Callable[[], None] | None = None,
    ) -> AsyncIterator[Execution]:
        """The current state, then each change; ends after a terminal status."""
        with self._slot(client) as release:
            subscription = self.bus.subscribe(
                execution_topic(source, native_id),
                queue_size=self.config.subscriber_queue,
                on_drop=self._dropped(release, on_drop),
            )
            poll: SharedPoll | None = None
            try:
                current = await self._load(source, native_id)
                last = version_of(current)
                yield current
                if current.is_terminal:
                    return
                if self._polled(source):
                    poll = self._poll("execution", source, native_id)
                    poll.acquire()
                async for message in self._messages(subscription, on_drop):
                    if message["version"] == last:
                        continue
                    last = message["version"]
                    execution = await self.snapshot(
                        source, native_id, last, message.get("execution")
                    )
                    yield execution
                    if execution.is_terminal:
                        return
            finally:
                subscription.close()
                if poll is not None:
                    poll.release()

    async def changes(
        self,
        client: str,
        sources: frozenset[str],
        statuses: frozenset[ExecutionStatus] | None,
        workflow_id: str | None,
        on_drop: Callable[[], None] | None = None,
        after: str | None = None,
    ) -> AsyncIterator[tuple[str | None, str, Execution]]:
        """Each change of an execution of ``sources`` that matches the filter, as it happens,
        with its position; with ``after``, first those logged after that position."""
        with self._listening(client, EXECUTIONS, "feed", sources, on_drop) as subscription:
            async for message in self._resumed(subscription, EXECUTIONS, after, on_drop):
                source = message["source"]
                if source not in sources:
                    continue
                if statuses is not None and ExecutionStatus(message["status"]) not in statuses:
                    continue
                execution = await self.snapshot(
                    source, message["id"], message["version"], message.get("execution")
                )
                workflow = execution.workflow
                if workflow_id is not None and (workflow is None or workflow.id != workflow_id):
                    continue
                yield message.get(POSITION_FIELD), source, execution

    async def approvals_requested(
        self,
        client: str,
        sources: frozenset[str],
        on_drop: Callable[[], None] | None = None,
        after: str | None = None,
    ) -> AsyncIterator[tuple[str | None, str, Execution, Approval]]:
        """Each approval of ``sources`` that becomes pending from now on, once, with its
        position; with ``after``, first those logged after that position."""
        with self._listening(client, APPROVALS, "approvals", sources, on_drop) as subscription:
            async for message in self._resumed(subscription, APPROVALS, after, on_drop):
                source = message["source"]
                if source not in sources:
                    continue
                execution = await self.snapshot(
                    source, message["id"], message["version"], message.get("execution")
                )
                approval = execution.approval(message["key"])
                if approval is not None and approval.status is ApprovalStatus.PENDING:
                    yield message.get(POSITION_FIELD), source, execution, approval

    async def approvals_resolved(
        self,
        client: str,
        sources: frozenset[str],
        on_drop: Callable[[], None] | None = None,
        after: str | None = None,
    ) -> AsyncIterator[tuple[str | None, str, Execution, Approval]]:
        """Each approval of ``sources`` that stops waiting from now on (decided, or its run
        ended), with its position; with ``after``, first those logged after that position."""
        with self._listening(client, APPROVALS_RESOLVED, "approvals", sources, on_drop) as sub:
            async for message in self._resumed(sub, APPROVALS_RESOLVED, after, on_drop):
                source = message["source"]
                if source not in sources:
                    continue
                execution = await self.snapshot(
                    source, message["id"], message["version"], message.get("execution")
                )
                approval = execution.approval(message["key"])
                if approval is not None:
                    yield message.get(POSITION_FIELD), source, execution, approval

    @contextmanager
    def _listening(
        self,
        client: str,
        topic: str,
        poll_kind: str,
        sources: frozenset[str],
        on_drop: Callable[[], None] | None,
    ) -> Iterator[BusSubscription]:
        """A subscription to a topic over many sources, and a shared poll of each listable
        source that sends no webhooks, held while it is open."""
        with self._slot(client) as release:
            subscription = self.bus.subscribe(
                topic,
                queue_size=self.config.subscriber_queue,
                on_drop=self._dropped(release, on_drop),
            )
            polls = [
                self._poll(poll_kind, name, "")
                for name in sorted(sources)
                if self._polled(name) and Capability.LIST in self._adapters[name].capabilities
            ]
            for poll in polls:
                poll.acquire()
            try:
                yield subscription
            finally:
                subscription.close()
                for poll in polls:
                    poll.release()

    async def _resumed(
        self,
        subscription: BusSubscription,
        topic: str,
        after: str | None,
        on_drop: Callable[[], None] | None,
    ) -> AsyncIterator[dict[str, Any]]:
        """The messages logged after ``after`` (read once ``subscription`` is open), then the
        live ones: those the replay covered (a position up to the last replayed) are skipped,
        so none is missed and none comes twice. Positions are in the log's order everywhere
        (one process; or Redis streams, tailed by every replica)."""
        seen: tuple[int, int] | None = None
        if after is not None:
            try:
                missed = await self.bus.replay(topic, after)
            except ResumeTooOld:
                self.stats.resume_too_old += 1
                raise resume_too_old_error() from None
            self.stats.resumed += 1
            seen = parse_position(after)
            for message in missed:
                seen = _position_of(message) or seen
                yield message
        async for message in self._messages(subscription, on_drop):
            position = _position_of(message)
            if seen is not None and position is not None and position <= seen:
                continue
            yield message

    async def _messages(
        self, subscription: BusSubscription, on_drop: Callable[[], None] | None
    ) -> AsyncIterator[dict[str, Any]]:
        """The subscription's messages, until it is closed; then ``SHUTTING_DOWN`` if that is
        why. One with ``on_drop`` has a connection of its own to close (a WebSocket): the server
        closes it at shutdown (code 1012), so ``shutting_down`` leaves it to that close."""
        if self._shutting_down:
            raise shutting_down_error()
        if on_drop is None:
            self._reading.add(subscription)
        try:
            async for message in subscription:
                yield message
        finally:
            self._reading.discard(subscription)
        if self._shutting_down:
            raise shutting_down_error()

    def shutting_down(self) -> None:
        """The server stops: end every HTTP stream's subscription now (each ends with
        ``SHUTTING_DOWN``) and refuse new subscriptions, so no stream holds the shutdown up until
        its grace runs out."""
        if self._shutting_down:
            return
        self._shutting_down = True
        log.info("ending open subscriptions: shutting down", extra={"count": len(self._reading)})
        for subscription in list(self._reading):
            subscription.close()

    @contextmanager
    def _slot(self, client: str) -> Iterator[Callable[[], None]]:
        """One of ``client``'s subscriptions, counted while open; yields its ``release``, which a
        drop calls at once (the reader of a dropped subscriber may never come back to end it)."""
        if self._shutting_down:
            raise shutting_down_error()
        total = sum(self._open.values())
        if total >= self.config.max_subscriptions:
            raise _limit("max_subscriptions", self.config.max_subscriptions, "open subscriptions")
        if self._open[client] >= self.config.max_subscriptions_per_client:
            raise _limit(
                "max_subscriptions_per_client",
                self.config.max_subscriptions_per_client,
                f"open subscriptions of client '{client}'",
            )
        self._open[client] += 1
        self.stats.subscriptions_opened += 1
        released = False

        def release() -> None:
            nonlocal released
            if released:
                return
            released = True
            self._open[client] -= 1
            if self._open[client] <= 0:
                del self._open[client]

        try:
            yield release
        finally:
            release()

    def _dropped(
        self, release: Callable[[], None], on_drop: Callable[[], None] | None
    ) -> Callable[[], None]:
        """What the bus calls the moment it drops a slow consumer: counted and uncounted now,
        then the transport's own ``on_drop`` (a WebSocket is closed)."""

        def dropped() -> None:
            self.stats.slow_consumers += 1
            release()
            if on_drop is not None:
                on_drop()

        return dropped

    @property
    def open_subscriptions(self) -> int:
        return sum(self._open.values())

    # -- polls ----------------------------------------------------------------------------

    def _polled(self, source: str) -> bool:
        """Whether changes of ``source`` must be polled for: no webhook secret, or a kind
        whose webhooks miss some changes (``Webhooks.covers_every_change``)."""
        config = self._sources[source]
        webhooks = adapter_class(config.kind).webhooks
        return not config.webhook_secrets or webhooks is None or not webhooks.covers_every_change

    def _poll(self, what: str, source: str, native_id: str) -> SharedPoll:
        key = (what, source, native_id)
        poll = self.polls.get(key)
        if poll is None:
            if what == "execution":
                action = self._execution_round(source, native_id)
            elif what == "feed":
                action = self._feed_round(source)
            else:
                action = self._approvals_round(source)
            interval = self._sources[source].poll_interval_s
            poll = SharedPoll(
                f"{what} {source} {native_id}".rstrip(),
                interval=interval,
                max_backoff=self.config.max_poll_backoff_s,
                action=self._claimed(f"poll:{what}:{source}:{native_id}", interval, action),
                sleep=self._sleep,
                background=self.background,
                on_idle=lambda: self._forget_poll(key),
            )
            self.polls[key] = poll
        return poll

    def _claimed(
        self, name: str, interval: float, action: Callable[[], Awaitable[bool]]
    ) -> Callable[[], Awaitable[bool]]:
        """``action``, run only by the replica that claims this interval's round first; the
        others skip it (their subscribers hear the result through the bus). Without shared
        state, or while it is away, every round runs."""
        if self._shared is None:
            return action
        shared = self._shared

        async def round_() -> bool:
            slot = int(self._wall_clock() // interval)
            try:
                claimed = await shared.add_once(f"{name}:{slot}", interval)
            except StateUnavailable:
                claimed = True
            if not claimed:
                self.stats.polls_elsewhere += 1
                return False
            return await action()

        return round_

    def _forget_poll(self, key: tuple[str, str, str]) -> None:
        self.polls.pop(key, None)

    def _execution_round(self, source: str, native_id: str) -> Callable[[], Awaitable[bool]]:
        async def round_() -> bool:
            self.stats.polls += 1
            execution = await self.read(source, native_id)
            await self.observe(source, execution)
            return execution.is_terminal

        return round_

    def _feed_round(self, source: str) -> Callable[[], Awaitable[bool]]:
        seen: dict[str, str] = {}
        baseline = True

        async def round_() -> bool:
            nonlocal seen, baseline
            self.stats.polls += 1
            page = await self._adapters[source].list_executions(
                cursor=None, page_size=FEED_PAGE_SIZE
            )
            listed = {item.native_id: version_of(item) for item in page.items}
            reads = 0
            for item in page.items:
                if baseline or seen.get(item.native_id) == listed[item.native_id]:
                    continue
                if page.complete:
                    await self.observe(source, item)
                elif reads < MAX_READS_PER_ROUND:
                    reads += 1
                    await self.observe(source, await self.read(source, item.native_id))
            seen, baseline = listed, False
            return False

        return round_

    def _approvals_round(self, source: str) -> Callable[[], Awaitable[bool]]:
        baseline = True
        # A kind whose list knows the waiting state says so (its adapter's waiting_status);
        # elsewhere waiting runs are 'running' upstream and each is read in full (bounded).
        status = self._adapters[source].waiting_status or ExecutionStatus.RUNNING

        waiting: set[str] = set()
        """Executions the last round saw waiting for a human: one that leaves the list was
        decided (or ended), so it is read once more for ``approvalResolved``."""

        async def round_() -> bool:
            nonlocal baseline, waiting
            self.stats.polls += 1
            page = await self._adapters[source].list_executions(
                cursor=None, page_size=FEED_PAGE_SIZE, status=status
            )
            reads = 0
            seen: set[str] = set()
            for item in page.items:
                execution = item
                if not page.complete:
                    if item.is_terminal or reads >= MAX_READS_PER_ROUND:
                        continue
                    reads += 1
                    execution = await self.read(source, item.native_id)
                await self.observe(source, execution, announce=not baseline)
                if any(a.status is ApprovalStatus.PENDING for a in execution.approvals):
                    seen.add(execution.native_id)
            listed = {item.native_id for item in page.items}
            for native_id in sorted(waiting - listed):
                if reads >= MAX_READS_PER_ROUND:
                    seen.add(native_id)  # still owed a read: next round
                    continue
                reads += 1
                try:
                    await self.observe(source, await self.read(source, native_id))
                except ExecutionNotFound:
                    continue
            waiting = seen
            baseline = False
            return False

        return round_

    async def aclose(self) -> None:
        await self.background.aclose()
        self.polls.clear()
        if self.notifier is not None:
            await self.notifier.aclose()


def _no_longer_waiting(execution: Execution, key: str) -> bool:
    """Whether ``execution`` shows the approval ``key`` as not waiting (so: announced then)."""
    approval = execution.approval(key)
    if approval is None:
        return False
    return approval.status is not ApprovalStatus.PENDING or execution.is_terminal


def _position_of(message: Mapping[str, Any]) -> tuple[int, int] | None:
    position = message.get(POSITION_FIELD)
    return parse_position(position) if isinstance(position, str) else None


def _limit(key: str, allowed: int, what: str) -> GatewayError:
    return GatewayError(
        f"Too many {what}; this gateway allows {allowed} (live.{key}).",
        "BAD_USER_INPUT",
        limit=f"live.{key}",
        allowed=allowed,
    )
