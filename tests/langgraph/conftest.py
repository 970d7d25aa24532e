"""The real LangGraph Agent Server, once per session (``langgraph dev``, in memory)."""

from __future__ import annotations

from typing import TYPE_CHECKING

import pytest

from tests.langgraph.server import LangGraphServer

if TYPE_CHECKING:
    from collections.abc import Iterator


@pytest.fixture(scope="session")
def langgraph_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LangGraphServer]:
    server = LangGraphServer(tmp_path_factory.mktemp("langgraph"))
    server.start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def langgraph_url(langgraph_server: LangGraphServer) -> str:
    return langgraph_server.url
