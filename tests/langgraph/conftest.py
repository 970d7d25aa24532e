"""The real LangGraph Agent Server, once per session (``langgraph dev``, in memory), allowed to
post run webhooks to the gateways the tests serve on 127.0.0.1."""

from __future__ import annotations

from typing import TYPE_CHECKING

import pytest

from tests.langgraph.server import agent_server

if TYPE_CHECKING:
    from collections.abc import Iterator

    from sandbox.agent_server import AgentServer


@pytest.fixture(scope="session")
def langgraph_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[AgentServer]:
    server = agent_server(tmp_path_factory.mktemp("langgraph"), loopback_webhooks=True)
    server.start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def langgraph_url(langgraph_server: AgentServer) -> str:
    return langgraph_server.url
