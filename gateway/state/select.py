"""The backend ``[state]`` names."""

from __future__ import annotations

from typing import TYPE_CHECKING

from gateway.state.memory import MemoryState

if TYPE_CHECKING:
    from gateway.config import StateConfig
    from gateway.state.base import SharedState

__all__ = ["shared_state"]


def shared_state(config: StateConfig, secret: str | None = None) -> SharedState:
    """``secret`` seals what Redis keeps (every replica must share it: the cursor secret)."""
    if config.backend == "redis" and config.redis_url:
        # Imported only when asked for: redis-py loads OpenTelemetry when it is installed.
        from gateway.state.redis import RedisState

        return RedisState(
            config.redis_url, secret=secret, prefix=config.key_prefix, timeout_s=config.timeout_s
        )
    return MemoryState()
