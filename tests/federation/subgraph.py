"""The gateway configured as a subgraph for the federation tests, behind two API keys."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from gateway.config import parse_config
from gateway.demo import demo_raw_config

if TYPE_CHECKING:
    from gateway.config import GatewayConfig

__all__ = ["APPROVER_KEY", "VIEWER_KEY", "federated_config"]

VIEWER_KEY = "router-viewer-key-0123456789"
"""A client with the ``viewer`` role: what a router's callers send."""
APPROVER_KEY = "approver-only-key-0123456789"
"""A client with only ``approver``: the gate refuses it every query, ``_entities`` included."""


def federated_config(
    sandbox_url: str, *, federation: bool = True, limits: dict[str, Any] | None = None
) -> GatewayConfig:
    """The demo gateway with ``server.federation`` (or without, to compare), behind API keys."""
    raw, env = demo_raw_config(sandbox_url)
    raw["server"]["federation"] = federation
    raw["limits"] = limits or {}
    raw["auth"] = {
        "mode": "api_key",
        "clients": [
            {"name": "router", "key_env": "ROUTER_KEY", "roles": ["viewer"]},
            {"name": "bot", "key_env": "BOT_KEY", "roles": ["approver"], "reviewer_id": "bot@x"},
        ],
    }
    return parse_config(raw, {**env, "ROUTER_KEY": VIEWER_KEY, "BOT_KEY": APPROVER_KEY})
