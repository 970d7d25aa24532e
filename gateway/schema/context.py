"""The per-request context resolvers receive as ``info.context``."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from collections.abc import Callable

    from graphql import GraphQLError
    from starlette.requests import Request
    from starlette.responses import Response

    from adapters.model import Execution
    from gateway.core.caller import Caller
    from gateway.core.loaders import Loaders
    from gateway.core.runtime import Runtime
    from gateway.gate import Gate
    from gateway.live.hub import LiveHub

__all__ = ["Context"]


@dataclass(slots=True)
class Context:
    request: Request
    response: Response
    runtime: Runtime
    loaders: Loaders
    caller: Caller
    request_id: str
    gate: Gate
    """The checks every operation passes before it runs (gateway/gate): ``GatewaySchema``
    asks them, whichever transport built this context."""
    live: LiveHub | None = None
    """Subscriptions' hub (gateway/live); None where live updates are not served."""
    connection_params: dict[str, object] | None = None
    """A WebSocket's ``connection_init`` payload (where a browser puts its API key)."""
    extra_errors: list[GraphQLError] = field(default_factory=list)
    """Non-fatal errors a resolver reports next to its answer (a source missing from a merged
    list); ``gateway.schema.extra_errors.merge_extra_errors`` appends them to the result's errors."""

    def visible_sources(self) -> list[str]:
        """The configured sources the caller may read, in config order (all without a scope):
        a source out of scope is unknown to it, like one that is not configured."""
        names = list(self.runtime.sources)
        scope = self.caller.scope
        return names if scope is None else scope.sources(names)

    def partitions(self) -> dict[str, Callable[[Execution], str | None]]:
        """Each source's partition reader, which a scope's partitions are checked with."""
        return {name: adapter.partition for name, adapter in self.runtime.adapters.items()}

    def cursor_kind(self, kind: str) -> str:
        """``kind``, bound to the caller's scope: a cursor signed for one scope does not verify
        in another (docs/scope.md)."""
        scope = self.caller.scope
        return kind if scope is None else f"{kind}|{scope.fingerprint}"

    def release(self) -> None:
        """Free what the request loaded, once its operation is answered (see Loaders.release)."""
        self.loaders.release()
