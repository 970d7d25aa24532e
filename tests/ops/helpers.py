"""Building and serving a demo gateway whose config a test adjusts, keeping the app at hand."""

from __future__ import annotations

from contextlib import asynccontextmanager
from typing import TYPE_CHECKING, Any

import httpx

from gateway.http.app import create_app
from tests.serving import demo_config_with, serving

if TYPE_CHECKING:
    from collections.abc import AsyncIterator

    from starlette.applications import Starlette

__all__ = ["build", "client_for", "demo_config_with"]


@asynccontextmanager
async def client_for(app: Starlette) -> AsyncIterator[httpx.AsyncClient]:
    """``app`` served on loopback, lifespan included, and a client for it."""
    async with serving(app) as url, httpx.AsyncClient(base_url=url, timeout=30) as client:
        yield client


def build(sandbox_url: str, **sections: Any) -> Starlette:
    return create_app(demo_config_with(sandbox_url, **sections))
