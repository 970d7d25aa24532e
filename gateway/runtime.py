"""Process-long state: one adapter (and HTTP client) per source, the store, the counters.

Built from the config, opened in the Starlette lifespan and closed at shutdown (style.md habit 3).
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from adapters.registry import adapter_class
from gateway.cursors import CursorCodec
from gateway.decisions import AuditLog, DecisionService
from gateway.stats import SourceStats
from gateway.store import ExecutionStore

if TYPE_CHECKING:
    from collections.abc import Callable

    import httpx

    from adapters.base import SourceAdapter
    from gateway.config import GatewayConfig, SourceConfig

__all__ = ["Runtime"]


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
        audit_path = Path(config.audit.file) if config.audit.file else None
        self.decisions = DecisionService(self, AuditLog(audit_path))
        secret = config.server.cursor_secret
        self.cursors = CursorCodec(secret.encode() if secret else None)
        self.store = ExecutionStore(
            cache=config.cache, sources=self.sources, adapters=self.adapters, stats=self.stats
        )

    async def start(self) -> None:
        for source in self.config.sources:
            transport = self._transport_factory(source) if self._transport_factory else None
            self.adapters[source.name] = adapter_class(source.kind).create(
                name=source.name,
                base_url=source.base_url,
                credentials=source.credentials,
                settings=source.http,
                transport=transport,
                client=self.config.server.upstream_client,
                options={"step_kinds_from_workflow": source.step_kinds_from_workflow},
                observers=(self.stats[source.name].record_call,),
            )

    async def aclose(self) -> None:
        for adapter in self.adapters.values():
            await adapter.aclose()
        self.adapters.clear()
        self.decisions.close()
