"""The backend ``[state]`` names."""

from __future__ import annotations

from typing import TYPE_CHECKING

from gateway.state.memory import MemoryState
from gateway.state.redis import RedisState

if TYPE_CHECKING:
    from gateway.config import StateConfig
    from gateway.state.base import SharedState

__all__ = ["shared_state"]


def shared_state(config: StateConfig) -> SharedState:
    if config.backend == "redis" and config.redis_url:
        return RedisState(config.redis_url, prefix=config.key_prefix, timeout_s=config.timeout_s)
    return MemoryState()
