"""The cross-request execution store: a bounded, status-aware cache plus single flight.

Keyed by (source name, native id): a source's credentials are the gateway's own, so an entry is
the same for every caller and never crosses sources. Terminal executions live long, others
briefly; a source's ``cache_ttl_s`` overrides both. Errors are never cached. Concurrent misses
for one key, from any number of requests, share one upstream call.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections import OrderedDict
from typing import TYPE_CHECKING

from cachetools import TLRUCache

from gateway.core.background import Background
from gateway.core.futures import retrieve_outcome
from gateway.core.single_flight import SingleFlight
from gateway.state.base import StateUnavailable
from gateway.state.codec import decode_execution, encode_execution

if TYPE_CHECKING:
    from collections.abc import Awaitable, Callable, Mapping

    from adapters.base import SourceAdapter
    from adapters.model import Execution
    from gateway.config import CacheConfig, SourceConfig
    from gateway.ops.stats import SourceStats
    from gateway.state.base import SharedState

__all__ = ["ExecutionStore", "shared_key"]

log = logging.getLogger("gateway.store")

Key = tuple[str, str]
MAX_UNSENT = 100_000
"""Changes kept while the shared state is away (a few MB); past it, the oldest is dropped, logged."""
UNSENT_RETRY_S = 1.0


def shared_key(source: str, native_id: str) -> str:
    return f"execution:{source}:{native_id}"


class ExecutionStore:
    def __init__(
        self,
        *,
        cache: CacheConfig,
        sources: Mapping[str, SourceConfig],
        adapters: Mapping[str, SourceAdapter],
        stats: Mapping[str, SourceStats],
        timer: Callable[[], float] = time.monotonic,
        shared: SharedState | None = None,
        background: Background | None = None,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        self._config = cache
        self._sources = sources
        self._adapters = adapters
        self._stats = stats
        self._cache: TLRUCache[Key, Execution] = TLRUCache(
            maxsize=max(1, cache.max_entries), ttu=self._expires, timer=timer
        )
        self._fetches: SingleFlight[Key, list[Execution]] = SingleFlight()
        self._shared = shared
        """Where replicas share finished executions (Redis); None in one process."""
        # Not `background or ...`: an idle Background has no tasks, so it is falsy.
        self._background = background if background is not None else Background()
        self._sleep = sleep
        self._unsent: OrderedDict[Key, None] = OrderedDict()
        """Changes learnt while the shared state was away, oldest first, to be sent when it is back."""
        self._sender: asyncio.Task[None] | None = None
        self.on_forget: list[Callable[[str, str], object]] = []
        """Told of every execution this replica drops, whoever said it changed: the response
        cache listens."""
        self.on_forget_all: list[Callable[[], object]] = []
        """Told when this replica drops everything (it may have missed what changed)."""
        self.on_invalidate: list[Callable[[str, str], object]] = []
        """Told of every change learnt here, once the shared state has it: whatever tells the
        other replicas listens."""

    def ttl(self, source: str, execution: Execution) -> float:
        override = self._sources[source].cache_ttl_s
        if override is not None:
            return override
        return self._config.terminal_ttl_s if execution.is_terminal else self._config.active_ttl_s

    def _expires(self, key: Key, execution: Execution, now: float) -> float:
        return now + self.ttl(key[0], execution)

    def cached(self, source: str, native_id: str) -> Execution | None:
        return self._cache.get((source, native_id))

    def load(self, source: str, native_id: str) -> asyncio.Future[list[Execution]]:
        """The execution first, then any descendants its upstream returned in the same call.

        The shared fetch itself, not a copy: other requests may wait on it, so a caller adds a
        done callback (as the loaders do) or awaits ``asyncio.shield`` of it, and never cancels it.
        """
        key = (source, native_id)
        stats = self._stats[source]
        hit = self._cache.get(key)
        if hit is not None:
            stats.cache_hits += 1
            done: asyncio.Future[list[Execution]] = asyncio.get_running_loop().create_future()
            done.set_result([hit])
            return done
        stats.cache_misses += 1
        fetch, joined = self._fetches.join(key, lambda: self._fetch(key))
        if joined:
            stats.shared_fetches += 1
        else:
            fetch.add_done_callback(retrieve_outcome)
        return fetch

    async def _fetch(self, key: Key) -> list[Execution]:
        source, native_id = key
        version = b""
        if self._shared is not None:
            shared, version = await self._shared_read(source, native_id)
            if shared is not None:
                self._stats[source].shared_hits += 1
                if self._cache.maxsize and self._current(key):
                    self._cache[key] = shared
                return [shared]
        executions = await self._adapters[source].get_tree(native_id)
        if not self._current(key):
            # Forgotten while in flight (the execution changed): what this read may predate the
            # change, so its callers get it, and no cache does.
            return executions
        shared_ones = []
        for execution in executions:
            kept_for = self.ttl(source, execution)
            if self._cache.maxsize and kept_for > 0:
                self._cache[(source, execution.native_id)] = execution
            if self._shared is not None and execution.is_terminal and kept_for > 0:
                shared_ones.append((execution, kept_for))
        for execution, kept_for in shared_ones:
            # Descendants came without a version read: shared only if never superseded.
            read_at = version if execution.native_id == native_id else b""
            await self._share(source, execution, kept_for, read_at)
        return executions

    def _current(self, key: Key) -> bool:
        """Whether the running fetch of ``key`` is still the one callers join (not forgotten)."""
        return self._fetches.holds(key, asyncio.current_task())

    async def _share(self, source: str, execution: Execution, ttl_s: float, version: bytes) -> None:
        """Written before the answer leaves, so a replica asked next finds it (one Redis write,
        for finished executions only), unless the execution was superseded since it was read;
        Redis away only means the next replica reads upstream."""
        assert self._shared is not None
        with contextlib.suppress(StateUnavailable):
            await self._shared.write_if_version(
                shared_key(source, execution.native_id),
                encode_execution(execution),
                ttl_s,
                version,
            )

    async def _shared_read(self, source: str, native_id: str) -> tuple[Execution | None, bytes]:
        """A finished execution another replica already read (None when absent or Redis is away),
        and the version it was read at."""
        assert self._shared is not None
        try:
            payload, version = await self._shared.read_versioned(shared_key(source, native_id))
        except StateUnavailable:
            return None, b"\0unread"  # matches no version: nothing read now is shared later
        if payload is None:
            return None, version
        execution = decode_execution(payload)
        if execution is None or not execution.is_terminal:
            # Sealed by a gateway, yet not a finished execution this build reads: another
            # version's, or a bug's. Never served; the next read upstream replaces it.
            self._shared.bad_entries["execution"] += 1
            return None, version
        return execution, version

    def put(self, source: str, execution: Execution) -> None:
        """Keep an execution learnt another way (a list page), under the same TTL rules."""
        if self.ttl(source, execution) > 0:
            self._cache[(source, execution.native_id)] = execution

    def forget_here(self, source: str, native_id: str) -> None:
        """Drop one execution from this replica: its copy, any read of it in flight (the next
        caller starts a new one), and what listens (``on_forget``)."""
        key = (source, native_id)
        self._cache.pop(key, None)
        self._fetches.forget(key)
        for listener in self.on_forget:
            listener(source, native_id)

    def forget_all_here(self) -> None:
        """Drop everything this replica holds (it may have missed a change another announced)."""
        self._cache.clear()
        self._fetches.forget_all()
        for listener in self.on_forget_all:
            listener()

    async def invalidate(self, source: str, native_id: str) -> None:
        """Forget one execution everywhere, after a decision or a webhook changed it: here, in the
        shared state (superseded, so no replica's read from before the change is shared after
        it), then on the other replicas (``on_invalidate``)."""
        self.forget_here(source, native_id)
        if self._shared is None:
            return
        # Shielded: a caller giving up must not leave the other replicas uninformed.
        await asyncio.shield(
            self._background.spawn(
                self._supersede(source, native_id), "invalidating a shared execution"
            )
        )

    async def _supersede(self, source: str, native_id: str) -> None:
        """Supersede in the shared state, then tell the listeners; when the shared state cannot be
        reached, keep the change and send it, in order, once it can (``_send_unsent``)."""
        assert self._shared is not None
        key = (source, native_id)
        if self._unsent:  # older changes wait: this one goes after them
            self._keep_unsent(key)
            return
        try:
            await self._shared.supersede(shared_key(source, native_id))
        except StateUnavailable:
            self._keep_unsent(key)
            return
        for listener in self.on_invalidate:
            listener(source, native_id)

    def _keep_unsent(self, key: Key) -> None:
        self._unsent[key] = None
        self._unsent.move_to_end(key)
        if len(self._unsent) > MAX_UNSENT:
            dropped = next(iter(self._unsent))
            del self._unsent[dropped]
            log.warning(
                "too many changes waiting for the shared state; the oldest is dropped",
                extra={"source": dropped[0], "native_id": dropped[1]},
            )
        if self._sender is None or self._sender.done():
            self._sender = self._background.spawn(
                self._send_unsent(), "sending changes the shared state missed"
            )

    async def _send_unsent(self) -> None:
        """Until none is left, every ``UNSENT_RETRY_S``: supersede each change the shared state
        missed and tell the listeners (the other replicas), oldest first."""
        assert self._shared is not None
        while self._unsent:
            await self._sleep(UNSENT_RETRY_S)
            while self._unsent:
                source, native_id = next(iter(self._unsent))
                try:
                    await self._shared.supersede(shared_key(source, native_id))
                except StateUnavailable:
                    break
                self._unsent.pop((source, native_id), None)
                for listener in self.on_invalidate:
                    listener(source, native_id)

    def stop_sending(self) -> None:
        """At shutdown: stop retrying the changes the shared state missed (logged, not lost
        silently: the other replicas keep their copies until their TTL)."""
        if self._sender is not None and not self._sender.done():
            self._sender.cancel()
        if self._unsent:
            log.warning(
                "shutting down with changes the shared state never received",
                extra={"count": len(self._unsent)},
            )

    def __len__(self) -> int:
        return len(self._cache)
