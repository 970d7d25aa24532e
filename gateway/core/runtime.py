"""Process-long state: one adapter (and HTTP client) per source, the store, the counters.

Built from the config, opened in the Starlette lifespan and closed at shutdown (style.md habit 3).
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from adapters.base import Credentials
from adapters.declarations import WEBHOOK_SECRET
from adapters.registry import adapter_class
from gateway.config import ConfigError
from gateway.core.actions import AuditLog
from gateway.core.background import Background
from gateway.core.cursors import CursorCodec
from gateway.core.decisions import DecisionService
from gateway.core.persisted import PersistedQueries, load_manifest
from gateway.core.response_cache import ResponseCache
from gateway.core.run_control import RunControl
from gateway.core.shared_answers import SharedAnswers, longest_answer_ttl_s
from gateway.core.store import ExecutionStore
from gateway.ops.stats import SourceStats
from gateway.state.secrets import SecretMismatch, check_shared_secrets
from gateway.state.select import shared_state

if TYPE_CHECKING:
    from collections.abc import Callable

    import httpx

    from adapters.base import SourceAdapter
    from gateway.config import GatewayConfig, SourceConfig

__all__ = ["Runtime"]

ANNOUNCEMENT_SLACK_S = 5.0
"""Longer than a change's announcement takes to reach every replica through Redis pub/sub."""


class Runtime:
    def __init__(
        self,
        config: GatewayConfig,
        transport_factory: Callable[[SourceConfig], httpx.AsyncBaseTransport | None] | None = None,
    ) -> None:
        self.config = config
        self.sources = {s.name: s for s in config.sources}
        self.stats = {s.name: SourceStats() for s in config.sources}
        self.adapters: dict[str, SourceAdapter] = {}
        self._transport_factory = transport_factory
        secret = config.server.cursor_secret
        self.cursors = CursorCodec(secret.encode() if secret else None)
        self.state = shared_state(config.state, secret)
        self.background = Background()
        self.store = ExecutionStore(
            cache=config.cache,
            sources=self.sources,
            adapters=self.adapters,
            stats=self.stats,
            shared=self.state if config.state.backend != "memory" else None,
            background=self.background,
        )
        self.answers = ResponseCache(
            max_entries=config.cache.answers_max_entries,
            max_bytes=config.cache.answers_max_bytes,
        )
        self.store.on_forget.append(self.answers.invalidate)
        # With Redis, whole answers are shared too; a change superseded less than one request
        # deadline ago (plus time for its announcement) may be missing from an answer.
        self.shared_answers = (
            SharedAnswers(
                self.state,
                quiet_s=config.server.request_deadline_s + ANNOUNCEMENT_SLACK_S,
                max_ttl_s=longest_answer_ttl_s(config.cache, config.sources),
                counters=self.answers.counters,
            )
            if config.state.backend != "memory"
            else None
        )
        self.store.on_forget_all.append(self.answers.clear)
        trusted = (
            load_manifest(Path(config.cache.trusted_documents))
            if config.cache.persisted_queries == "trusted" and config.cache.trusted_documents
            else None
        )
        self.persisted = PersistedQueries(
            mode=config.cache.persisted_queries,
            max_entries=config.cache.persisted_queries_max,
            trusted=trusted,
        )
        audit_path = Path(config.audit.file) if config.audit.file else None
        audit = self.audit = AuditLog(audit_path)
        self.decisions = DecisionService(
            self.adapters,
            self.store,
            audit,
            shared=self.state if config.state.backend != "memory" else None,
        )
        # Start keys live in the shared state whatever its backend: memory in one process.
        self.run_control = RunControl(self.adapters, self.store, self.state, audit)

    async def start(self) -> None:
        secrets = {"server.cursor_secret": self.config.server.cursor_secret or ""}
        if self.config.state.backend != "memory":
            try:
                await check_shared_secrets(self.state, secrets)
            except SecretMismatch as exc:
                await self.state.aclose()
                raise ConfigError(str(exc)) from exc
        for source in self.config.sources:
            transport = self._transport_factory(source) if self._transport_factory else None
            self.adapters[source.name] = adapter_class(source.kind).create(
                name=source.name,
                base_url=source.base_url,
                credentials=Credentials(
                    **source.credentials,
                    **{WEBHOOK_SECRET: next(iter(source.webhook_secrets), None)},
                ),
                settings=source.http,
                transport=transport,
                client=self.config.server.upstream_client,
                options=source.options,
                observers=(self.stats[source.name].record_call,),
            )

    async def aclose(self) -> None:
        for adapter in self.adapters.values():
            await adapter.aclose()
        self.adapters.clear()
        self.store.stop_sending()
        await self.background.drain()
        await self.state.aclose()
        self.decisions.close()
