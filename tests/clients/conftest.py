"""The demo gateway's base URL for clients that run outside Python."""

from __future__ import annotations

from typing import TYPE_CHECKING

import pytest

from gateway.demo import demo_config
from gateway.http.app import create_app
from tests.serving import serving

if TYPE_CHECKING:
    from collections.abc import AsyncIterator


@pytest.fixture
async def gateway_url(sandbox_url: str) -> AsyncIterator[str]:
    async with serving(create_app(demo_config(sandbox_url))) as url:
        yield url
