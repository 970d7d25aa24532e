"""Shared fixtures: a clean environment, and the sandbox and gateway served over real HTTP."""

from __future__ import annotations

import logging
import os
import sys
from typing import TYPE_CHECKING, Any

import httpx
import pytest

from gateway.demo import demo_config
from gateway.http.app import create_app
from sandbox import Sandbox, SandboxConfig
from tests.redis_server import RedisServer
from tests.secret_scan import FINDINGS, SecretLogScanner
from tests.serving import serving

if TYPE_CHECKING:
    from collections.abc import AsyncIterator, Iterator
    from pathlib import Path

    from gateway.schema import GatewaySchema


LONG_RUNNING_FIRST = (
    "tests/e2e/test_fuzz.py",
    "tests/e2e/test_bench.py",
    "tests/ops/test_process.py",
)
"""Files whose tests take longest (``--durations``): started first, so that under pytest-xdist no
worker is still on one of them after the others have finished. Order only; no test depends on it."""


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    items.sort(key=lambda item: item.nodeid.partition("::")[0] not in LONG_RUNNING_FIRST)


@pytest.fixture(autouse=True)
def clean_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    """No test sees configuration overrides or proxies from the machine it runs on."""
    for name in list(os.environ):
        if name.startswith("GATEWAY__") or name.lower().endswith("_proxy"):
            monkeypatch.delenv(name)


FAST_PATHS = os.environ.get("GATEWAY_TEST_FAST_PATHS", "true").lower() not in ("0", "false", "off")
"""``GATEWAY_TEST_FAST_PATHS=false`` runs every gateway the tests serve with ``[server] fast_paths``
off (docs/performance.md); the default leaves each config as it is."""


@pytest.fixture(autouse=True)
def fast_paths_mode(monkeypatch: pytest.MonkeyPatch) -> None:
    """Off: every app built by create_app gets a schema without the speed work (a config
    setting applied at the one place apps build their schema, not a stand-in for our code)."""
    if FAST_PATHS:
        return
    from gateway.schema import build_schema

    def without_speed(*args: Any, **kwargs: Any) -> GatewaySchema:
        return build_schema(*args, **{**kwargs, "fast_paths": False})

    monkeypatch.setattr("gateway.http.app.build_schema", without_speed)


@pytest.fixture(scope="session", autouse=True)
def no_secret_anywhere() -> Iterator[None]:
    """Fails the session if any served response or any log record carried a configured secret."""
    scanner = SecretLogScanner(level=logging.DEBUG)
    root = logging.getLogger()
    root.addHandler(scanner)
    yield
    root.removeHandler(scanner)
    assert not FINDINGS, "secrets leaked:\n" + "\n".join(sorted(set(FINDINGS))[:20])


@pytest.fixture
def sandbox() -> Sandbox:
    return Sandbox(SandboxConfig(executions_per_source=40))


@pytest.fixture
async def sandbox_url(sandbox: Sandbox) -> AsyncIterator[str]:
    async with serving(sandbox.app(), lifespan="off") as url:
        yield url


@pytest.fixture
async def gateway(sandbox_url: str) -> AsyncIterator[httpx.AsyncClient]:
    """An HTTP client for the demo gateway served on loopback in front of the sandbox."""
    async with (
        serving(create_app(demo_config(sandbox_url))) as url,
        httpx.AsyncClient(base_url=url, timeout=30) as client,
    ):
        yield client


@pytest.fixture
def redis_server(tmp_path: Path) -> Iterator[RedisServer]:
    """A fresh, empty ``redis-server`` on a free port for this test."""
    server = RedisServer(tmp_path)
    server.start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def without_httpx(monkeypatch: pytest.MonkeyPatch) -> None:
    """``import httpx`` fails from here on, as where the optional ``httpx`` extra is missing."""
    monkeypatch.setitem(sys.modules, "httpx", None)
    monkeypatch.delitem(sys.modules, "adapters.transports.httpx", raising=False)
