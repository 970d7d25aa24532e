"""The serving process: graceful shutdown, the workers' app factory, what ``serve`` refuses."""

from __future__ import annotations

import asyncio
import math
import os
import signal
import subprocess
import sys
import time
from contextlib import contextmanager
from typing import TYPE_CHECKING

import httpx
import pytest
import uvicorn
from starlette.applications import Starlette

from gateway import cli
from gateway.config import ConfigError
from gateway.demo import DEMO_EXECUTION_ID
from gateway.http.app import CONFIG_ENV, app_from_env, create_app
from tests.ops.helpers import demo_config_with
from tests.processes import free_port

if TYPE_CHECKING:
    from collections.abc import Callable, Iterator
    from pathlib import Path

    from sandbox import Sandbox

pytestmark = pytest.mark.e2e

QUERY = f'{{ execution(id: "{DEMO_EXECUTION_ID}") {{ status }} }}'
SLOW_UPSTREAM_MS = 300
POLL_S = 0.01
STARTUP_LIMIT_S = 30.0
GATEWAY = (sys.executable, "-m", "gateway")
CONFIG_TOML = """
[server]
shutdown_timeout_s = 7.5

[logging]
format = "json"

[[sources]]
name = "rv"
kind = "rotavision"
base_url = "http://127.0.0.1:9"
api_key_env = "RV_KEY"
"""


async def until(condition: Callable[[], bool]) -> None:
    for _ in range(int(STARTUP_LIMIT_S / POLL_S)):
        if condition():
            return
        await asyncio.sleep(POLL_S)
    raise AssertionError("the condition never held")


@pytest.fixture
def config_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("RV_KEY", "rv-key")
    path = tmp_path / "gateway.toml"
    path.write_text(CONFIG_TOML, encoding="utf-8")
    return path


async def test_shutdown_lets_an_in_flight_query_finish(sandbox: Sandbox, sandbox_url: str) -> None:
    sandbox.faults.update({"latency_ms": SLOW_UPSTREAM_MS})
    config = demo_config_with(sandbox_url)
    config = config.model_copy(update={"server": config.server.model_copy(update={"port": 0})})
    app = create_app(config)
    server = uvicorn.Server(uvicorn.Config(app, **cli.uvicorn_options(config)))
    serving = asyncio.create_task(server.serve())
    await until(lambda: server.started)
    port = server.servers[0].sockets[0].getsockname()[1]
    async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", timeout=30) as client:
        request = asyncio.create_task(client.post("/graphql", json={"query": QUERY}))
        await until(lambda: sandbox.stats.in_flight > 0)
        server.should_exit = True  # what SIGTERM does
        response = await request
    await serving
    assert response.status_code == 200
    assert response.json() == {"data": {"execution": {"status": "WAITING_FOR_APPROVAL"}}}
    assert app.state.runtime.adapters == {}, "the lifespan closed the upstream clients"


def test_uvicorn_waits_the_configured_grace_and_leaves_logs_to_us() -> None:
    config = demo_config_with("http://127.0.0.1:9")
    options = cli.uvicorn_options(config)
    assert options["timeout_graceful_shutdown"] == math.ceil(config.server.shutdown_timeout_s)
    assert options["log_config"] is None
    assert options["access_log"] is False
    assert "workers" not in options
    assert cli.uvicorn_options(config, workers=3)["workers"] == 3


def test_the_workers_factory_reads_the_config_the_environment_names(
    config_file: Path, monkeypatch: pytest.MonkeyPatch, restore_logging: None
) -> None:
    monkeypatch.setenv(CONFIG_ENV, str(config_file))
    app = app_from_env()
    assert isinstance(app, Starlette)
    assert app.state.metrics is not None
    module, _, name = cli.APP_FACTORY.partition(":")
    assert (module, name) == ("gateway.http.app", app_from_env.__name__)


def test_the_workers_factory_needs_the_variable(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(CONFIG_ENV, raising=False)
    with pytest.raises(ConfigError, match=CONFIG_ENV):
        app_from_env()


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        pytest.param(["--workers", "2"], 'server.metrics: "open" needs one process', id="metrics"),
        pytest.param(["--workers", "0"], "--workers: 0 must be at least 1", id="zero"),
    ],
)
def test_serve_refuses_workers_it_cannot_honour(
    config_file: Path, capsys: pytest.CaptureFixture[str], extra: list[str], message: str
) -> None:
    assert cli.main(["serve", "--config", str(config_file), *extra]) == cli.EXIT_CONFIG
    assert message in capsys.readouterr().err


@contextmanager
def running(
    config: str, tmp_path: Path, *args: str
) -> Iterator[tuple[str, subprocess.Popen[bytes]]]:
    """``gateway serve`` in a child process, once ready; killed if the test left it running."""
    path = tmp_path / "gateway.toml"
    path.write_text(config, encoding="utf-8")
    log = tmp_path / "stderr.log"
    port = free_port()
    with log.open("wb") as stderr:
        process = subprocess.Popen(  # noqa: S603 (our own command line)
            [*GATEWAY, "serve", "--config", str(path), "--port", str(port), *args],
            env={**os.environ, "RV_KEY": "rv-key"},
            stdout=subprocess.DEVNULL,
            stderr=stderr,
        )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + STARTUP_LIMIT_S
        ready = None
        while ready is None and time.monotonic() < deadline and process.poll() is None:
            try:
                ready = httpx.get(f"{url}/readyz", timeout=1)
            except httpx.TransportError:
                time.sleep(POLL_S * 10)
        assert ready is not None, f"the gateway did not come up:\n{log.read_text()}"
        assert ready.json() == {"status": "ready"}
        yield url, process
        process.send_signal(signal.SIGTERM)
        # uvicorn re-raises SIGTERM after its graceful shutdown, so a single process ends by it.
        assert process.wait(timeout=STARTUP_LIMIT_S) in (0, -signal.SIGTERM), log.read_text()
        assert "Application shutdown complete" in log.read_text()
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()


def test_serve_runs_several_workers_and_stops_on_sigterm(tmp_path: Path) -> None:
    config = CONFIG_TOML.replace("[server]", '[server]\nmetrics = "off"')
    with running(config, tmp_path, "--workers", "2") as (url, _):
        assert httpx.get(f"{url}/healthz").status_code == 200


def test_serve_puts_metrics_on_their_own_port(tmp_path: Path) -> None:
    metrics_port = free_port()
    config = CONFIG_TOML.replace(
        "[server]", f'[server]\nmetrics = "port"\nmetrics_port = {metrics_port}'
    )
    with running(config, tmp_path) as (url, _):
        assert httpx.get(f"{url}/metrics").status_code == 404
        scrape = httpx.get(f"http://127.0.0.1:{metrics_port}/metrics")
        assert scrape.status_code == 200
        assert "gateway_graphql_requests_in_flight" in scrape.text
