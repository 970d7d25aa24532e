"""Shutdown with open streams: a real ``gateway serve`` process with an SSE, a multipart and a
WebSocket subscription open gets SIGTERM; each stream ends with a message the client can act on
(``SHUTTING_DOWN``, or the WebSocket's close code), the process exits well inside its grace, and
nothing is logged as an error."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import time
from typing import TYPE_CHECKING, Any

import httpx
import pytest
from websockets.exceptions import ConnectionClosed

from gateway.demo import demo_raw_config
from tests.live.support import TransportWS, running_id
from tests.processes import free_port, gateway_process, sources_toml

if TYPE_CHECKING:
    from pathlib import Path

    from sandbox import Sandbox

pytestmark = pytest.mark.e2e

CHANGED = "subscription($id: ID!) { executionChanged(id: $id) { status } }"
MULTIPART = 'multipart/mixed;subscriptionSpec="1.0", application/json'
EXIT_LIMIT_S = 2.0
"""The bound the issue sets; the grace (``server.shutdown_timeout_s``) stays at its 10 s."""


def write_config(folder: Path, sandbox_url: str, port: int) -> tuple[Path, dict[str, str]]:
    raw, env = demo_raw_config(sandbox_url, port=port)
    lines = ["[server]", 'host = "127.0.0.1"', f"port = {port}", "", "[auth]", 'mode = "none"']
    lines += ["", "[logging]", 'format = "json"']
    lines += sources_toml(raw["sources"])
    config = folder / "gateway.toml"
    config.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return config, {**os.environ, **env}


async def sse_events(response: httpx.Response, opened: asyncio.Event) -> list[tuple[str, Any]]:
    """Every (event, data) of an SSE stream until it ends."""
    events: list[tuple[str, Any]] = []
    kind = ""
    async for line in response.aiter_lines():
        if line.startswith("event: "):
            kind = line.removeprefix("event: ")
        elif line.startswith("data: "):
            data = line.removeprefix("data: ")
            events.append((kind, json.loads(data) if data else None))
            opened.set()
    return events


async def multipart_payloads(response: httpx.Response, opened: asyncio.Event) -> list[Any]:
    """Every payload of a multipart stream until it ends (heartbeats, ``{}``, left out)."""
    payloads: list[Any] = []
    async for line in response.aiter_lines():
        if line.startswith("{"):
            part = json.loads(line)
            if "payload" in part:
                payloads.append(part["payload"])
                opened.set()
    return payloads


def final_code(payload: dict[str, Any]) -> str:
    return str(payload["errors"][0]["extensions"]["code"])


async def test_sigterm_ends_open_streams_with_a_final_message_and_exits_promptly(
    sandbox: Sandbox, sandbox_url: str, tmp_path: Path
) -> None:
    port = free_port()
    config, env = write_config(tmp_path, sandbox_url, port)
    url = f"http://127.0.0.1:{port}"
    stderr = tmp_path / "stderr.log"
    with gateway_process(config, port, env, stderr) as process:
        sse_id = f"velt:{running_id(sandbox, 'velt')}"
        multipart_id = f"tl:{running_id(sandbox, 'truthlocks')}"
        ws_id = f"rv:{running_id(sandbox, 'rotavision')}"
        async with (
            httpx.AsyncClient(base_url=url, timeout=30) as http,
            http.stream(
                "POST",
                "/graphql",
                json={"query": CHANGED, "variables": {"id": sse_id}},
                headers={"accept": "text/event-stream"},
            ) as sse,
            http.stream(
                "POST",
                "/graphql",
                json={"query": CHANGED, "variables": {"id": multipart_id}},
                headers={"accept": MULTIPART},
            ) as multipart,
            TransportWS.open(url.replace("http://", "ws://") + "/graphql") as ws,
        ):
            await ws.subscribe("1", CHANGED, {"id": ws_id})
            first = await ws.receive()
            assert first["payload"]["data"]["executionChanged"]["status"] == "RUNNING"
            sse_open, multipart_open = asyncio.Event(), asyncio.Event()
            sse_read = asyncio.create_task(sse_events(sse, sse_open))
            multipart_read = asyncio.create_task(multipart_payloads(multipart, multipart_open))
            await asyncio.wait_for(sse_open.wait(), 10)
            await asyncio.wait_for(multipart_open.wait(), 10)

            started = time.monotonic()
            process.send_signal(signal.SIGTERM)
            with pytest.raises(ConnectionClosed) as closed:
                await ws.receive()  # the socket closes without another message
            events = await asyncio.wait_for(sse_read, 10)
            payloads = await asyncio.wait_for(multipart_read, 10)
            exit_code = await asyncio.to_thread(process.wait, 10)
            took_s = time.monotonic() - started

    # uvicorn re-raises the signal it caught once it has shut down: the default action ends it.
    assert exit_code in (0, -signal.SIGTERM)
    assert took_s < EXIT_LIMIT_S, f"shutdown took {took_s:.2f} s"
    assert closed.value.rcvd is not None
    assert closed.value.rcvd.code in (1001, 1012)
    assert [kind for kind, _ in events] == ["next", "next", "complete"]
    assert final_code(events[1][1]) == "SHUTTING_DOWN"
    assert len(payloads) == 2
    assert final_code(payloads[1]) == "SHUTTING_DOWN"
    log = stderr.read_text(encoding="utf-8")
    assert "Traceback" not in log, log
    levels = [json.loads(line).get("level") for line in log.splitlines() if line.startswith("{")]
    assert "error" not in levels, log
    assert "critical" not in levels, log
