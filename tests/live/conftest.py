"""The live tests' fixture: the demo gateway with a hand-driven poll clock, over the sandbox."""

from __future__ import annotations

from typing import TYPE_CHECKING

import pytest

from tests.live.support import Live, live_gateway

if TYPE_CHECKING:
    from collections.abc import AsyncIterator

    from sandbox import Sandbox


@pytest.fixture
async def live(sandbox: Sandbox, sandbox_url: str) -> AsyncIterator[Live]:
    async with live_gateway(sandbox, sandbox_url) as served:
        yield served
