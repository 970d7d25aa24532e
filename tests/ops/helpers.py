"""Building and serving a demo gateway whose config a test adjusts, keeping the app at hand."""

from __future__ import annotations

from contextlib import asynccontextmanager
from typing import TYPE_CHECKING, Any

import httpx

from gateway.app import create_app
from gateway.config import GatewayConfig, parse_config
from gateway.demo import demo_raw_config
from tests.serving import serving

if TYPE_CHECKING:
    from collections.abc import AsyncIterator

    from starlette.applications import Starlette

__all__ = ["build", "client_for", "demo_config_with"]


def demo_config_with(
    sandbox_url: str, env: dict[str, str] | None = None, **sections: Any
) -> GatewayConfig:
    """The demo config with sections merged in; ``sources={"rv": {...}}`` merges per source."""
    raw, demo_env = demo_raw_config(sandbox_url)
    for section, values in sections.items():
        if section == "sources":
            for source in raw["sources"]:
                source.update(values.get(source["name"], {}))
        else:
            raw.setdefault(section, {}).update(values)
    return parse_config(raw, {**demo_env, **(env or {})})


@asynccontextmanager
async def client_for(app: Starlette) -> AsyncIterator[httpx.AsyncClient]:
    """``app`` served on loopback, lifespan included, and a client for it."""
    async with serving(app) as url, httpx.AsyncClient(base_url=url, timeout=30) as client:
        yield client


def build(sandbox_url: str, **sections: Any) -> Starlette:
    return create_app(demo_config_with(sandbox_url, **sections))
