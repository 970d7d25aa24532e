"""Attacks on the HTTP server before authentication, against a real ``gateway serve`` process.

Header floods, slow headers, slow bodies, idle connections and too many connections, each bounded
in count and time on loopback. The server process's memory (RSS) is sampled while the attack runs
and must stay under 200 MiB; ``/healthz`` must answer throughout. Latencies are printed (run with
``-rP`` to see them), not asserted: the machine is shared.
"""

from __future__ import annotations

import asyncio
import os
import threading
import time
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import httpx
import pytest

from gateway.http.app import create_app
from gateway.http.server import HeaderCountMiddleware
from tests.processes import STARTUP_LIMIT_S, free_port, gateway_process
from tests.serving import demo_config_with

if TYPE_CHECKING:
    import subprocess
    from collections.abc import Awaitable, Iterator

pytestmark = pytest.mark.e2e

MIB = 1024 * 1024
RSS_LIMIT_MIB = 200
ATTACK_LIMIT_S = 30.0
"""No attack may take longer; against unbounded servers they all would."""
CHUNK = 64 * 1024
MAX_CONNECTIONS = 300
IDLE_S = 1
"""The idle timeout the attacks run under: short, so each is over in seconds."""
HELD_IDLE_S = 120
"""The idle timeout while the cap is tested: opening its connections one by one on a loaded
machine can take longer than ``IDLE_S``, and an expired one would free a place under the cap."""
CONFIG = """
[server]
metrics = "off"
header_timeout_s = 1
body_timeout_s = 1
keep_alive_timeout_s = {idle_s}
max_connections = {max_connections}

[auth]
mode = "api_key"

[[auth.clients]]
name = "ui"
key_env = "UI_KEY"
roles = ["viewer"]

[[sources]]
name = "rv"
kind = "rotavision"
base_url = "http://127.0.0.1:9"
api_key_env = "RV_KEY"
"""


@dataclass
class Server:
    url: str
    host: str
    port: int
    process: subprocess.Popen[bytes]

    def rss_mib(self) -> float:
        status = Path(f"/proc/{self.process.pid}/status").read_text()
        kib = next(line.split()[1] for line in status.splitlines() if line.startswith("VmRSS:"))
        return int(kib) / 1024


@contextmanager
def serving(folder: Path, parser: str, idle_s: int) -> Iterator[Server]:
    """A real ``gateway serve`` process with the HTTP ``parser`` and idle timeout given."""
    config = folder / "gateway.toml"
    config.write_text(
        CONFIG.format(idle_s=idle_s, max_connections=MAX_CONNECTIONS), encoding="utf-8"
    )
    port = free_port()
    env = {
        **os.environ,
        "RV_KEY": "rv-key",
        "UI_KEY": "ui-secret-key",
        "GATEWAY__SERVER__HTTP_PARSER": parser,
    }
    with gateway_process(config, port, env, folder / "stderr.log") as process:
        yield Server(f"http://127.0.0.1:{port}", "127.0.0.1", port, process)


PARSERS = ["httptools", "h11"]
"""Both parsers uvicorn offers must hold the same bounds."""


@pytest.fixture(scope="module", params=PARSERS)
def server(
    tmp_path_factory: pytest.TempPathFactory, request: pytest.FixtureRequest
) -> Iterator[Server]:
    """The server the attacks run against, once per HTTP parser."""
    with serving(tmp_path_factory.mktemp("limits"), request.param, IDLE_S) as running:
        yield running


@pytest.fixture(params=PARSERS)
def patient_server(tmp_path: Path, request: pytest.FixtureRequest) -> Iterator[Server]:
    """A server whose idle connections outlast the test that holds them."""
    with serving(tmp_path, request.param, HELD_IDLE_S) as running:
        yield running


@dataclass
class Watch:
    """``/healthz`` latencies and the server's peak RSS while an attack runs."""

    latencies_ms: list[float] = field(default_factory=list)
    failures: int = 0
    peak_rss_mib: float = 0.0

    def report(self, name: str) -> str:
        ordered = sorted(self.latencies_ms) or [float("nan")]
        return (
            f"{name}: /healthz answered {len(self.latencies_ms)} times, failed {self.failures}; "
            f"median {ordered[len(ordered) // 2]:.1f} ms, max {ordered[-1]:.1f} ms; "
            f"server peak RSS {self.peak_rss_mib:.1f} MiB"
        )


async def under_attack(server: Server, attack: Awaitable[None], name: str) -> Watch:
    """Run ``attack`` while polling ``/healthz`` and sampling RSS; print what was seen.

    The poller runs on its own thread with a blocking client, so what it times is the server's
    answer, not this test's event loop, which is busy driving the attack.
    """
    watch = Watch(peak_rss_mib=server.rss_mib())
    done, polling = threading.Event(), threading.Event()

    def poll() -> None:
        with httpx.Client(base_url=server.url, timeout=10) as client:
            client.get("/healthz")  # the connection is open before the attack starts
            polling.set()
            while not done.is_set():
                started = time.perf_counter()
                try:
                    response = client.get("/healthz")
                    assert response.status_code == 200
                    watch.latencies_ms.append((time.perf_counter() - started) * 1000)
                except httpx.TransportError:
                    watch.failures += 1
                watch.peak_rss_mib = max(watch.peak_rss_mib, server.rss_mib())
                done.wait(0.05)

    poller = asyncio.create_task(asyncio.to_thread(poll))
    await asyncio.to_thread(polling.wait, STARTUP_LIMIT_S)
    try:
        await asyncio.wait_for(attack, ATTACK_LIMIT_S)
    finally:
        done.set()
        await poller
    print(watch.report(name))
    return watch


async def connect(server: Server) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
    return await asyncio.open_connection(server.host, server.port)


async def header_flood(server: Server, size: int) -> tuple[int, bytes]:
    """Send one unterminated header of up to ``size`` bytes; what was sent, and the answer."""
    reader, writer = await connect(server)
    sent = 0
    try:
        writer.write(b"GET /graphql HTTP/1.1\r\nHost: x\r\nX-Flood: ")
        while sent < size:
            writer.write(b"a" * CHUNK)
            await writer.drain()
            sent += CHUNK
    except (ConnectionError, OSError):
        pass
    answer = b""
    with suppress(ConnectionError, OSError):
        answer = await reader.read(200)
    writer.close()
    with suppress(ConnectionError, OSError):
        await writer.wait_closed()
    return sent, answer


async def test_a_header_flood_is_cut_off_and_health_answers(server: Server) -> None:
    """40 anonymous 10 MiB headers and one of 64 MiB: each refused after a few KiB."""
    sizes = [10 * MIB] * 40 + [64 * MIB]

    async def attack() -> None:
        # Each flood is cut off within milliseconds, so it is sent in waves for a second,
        # long enough for the health poller to ask many times while it runs.
        until = time.monotonic() + 1.0
        while time.monotonic() < until:
            results.extend(await asyncio.gather(*(header_flood(server, s) for s in sizes)))

    results: list[tuple[int, bytes]] = []
    watch = await under_attack(server, attack(), "header flood")
    assert watch.latencies_ms, "/healthz answered while the flood ran"
    assert watch.peak_rss_mib < RSS_LIMIT_MIB
    # The kernel buffers some of what was written before the reset; never the whole header.
    assert all(
        sent < size
        for (sent, _), size in zip(results, sizes * (len(results) // len(sizes)), strict=True)
    )
    assert server.process.poll() is None


async def trickle(server: Server, head: bytes, drip: bytes) -> bytes:
    """Send ``head``, then ``drip`` every 0.2 s until the server closes; what it answered.

    The answer is read while sending: a write after the close draws a reset, which would
    discard an answer not read yet.
    """
    reader, writer = await connect(server)
    answer = asyncio.create_task(read_until_closed(reader))
    writer.write(head)
    with suppress(ConnectionError, OSError):
        for _ in range(int(ATTACK_LIMIT_S * 5)):
            await asyncio.wait([answer], timeout=0.2)
            if answer.done():
                break
            writer.write(drip)
            await writer.drain()
    writer.close()
    with suppress(ConnectionError, OSError):
        await writer.wait_closed()
    return await answer


def slow_headers(server: Server) -> Awaitable[bytes]:
    return trickle(server, b"POST /graphql HTTP/1.1\r\nHost: x\r\n", b"X-Slow: 1\r\n")


def slow_body(server: Server) -> Awaitable[bytes]:
    head = (
        b"POST /graphql HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ui-secret-key\r\n"
        b"Content-Type: application/json\r\nContent-Length: 100000\r\n\r\n{"
    )
    return trickle(server, head, b" ")


async def read_until_closed(reader: asyncio.StreamReader) -> bytes:
    answer = b""
    with suppress(ConnectionError, OSError):
        while chunk := await reader.read(4096):
            answer += chunk
    return answer


async def closed(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> bytes:
    """What the server sent before it closed the connection (EOF or reset)."""
    answer = await read_until_closed(reader)
    writer.close()
    with suppress(ConnectionError, OSError):
        await writer.wait_closed()
    return answer


async def test_slow_headers_and_slow_bodies_are_timed_out(server: Server) -> None:
    """80 connections trickling a byte every 0.2 s: each is closed by its timeout (1 s here)."""
    answers: list[bytes] = []

    async def attack() -> None:
        answers.extend(
            await asyncio.gather(
                *(slow_headers(server) for _ in range(40)), *(slow_body(server) for _ in range(40))
            )
        )

    watch = await under_attack(server, attack(), "slow headers and bodies")
    assert watch.latencies_ms
    assert len(answers) == 80, "every trickling connection was closed by the server"
    assert all(a.startswith(b"HTTP/1.1 408") for a in answers[:40]), answers[:40]
    # A slow body is cut off under the application, which answers nothing to a disconnect.
    assert all(not a.startswith(b"HTTP/1.1 200") for a in answers[40:]), answers[40:]
    assert watch.peak_rss_mib < RSS_LIMIT_MIB


async def idle(server: Server) -> bytes:
    reader, writer = await connect(server)
    return await closed(reader, writer)


async def test_idle_connections_are_closed(server: Server) -> None:
    """Connections that never send a byte are closed after ``keep_alive_timeout_s``."""
    answers: list[bytes] = []

    async def attack() -> None:
        answers.extend(await asyncio.gather(*(idle(server) for _ in range(MAX_CONNECTIONS - 50))))

    watch = await under_attack(server, attack(), "idle connections")
    assert watch.latencies_ms
    assert answers == [b""] * (MAX_CONNECTIONS - 50), "closed without a word"


async def test_connections_past_the_cap_get_503(patient_server: Server) -> None:
    """``max_connections`` open at once; the next is answered 503 and closed at once."""
    server = patient_server
    held = [await connect(server) for _ in range(MAX_CONNECTIONS)]
    try:
        reader, writer = await connect(server)
        answer = await asyncio.wait_for(closed(reader, writer), ATTACK_LIMIT_S)
        assert answer.startswith(b"HTTP/1.1 503")
        assert b"max_connections" in answer
    finally:
        for _, writer in held:
            writer.close()
    # Once they are gone, the server takes connections again.
    for _ in range(100):
        with suppress(httpx.TransportError):
            if (await asyncio.to_thread(httpx.get, f"{server.url}/healthz")).status_code == 200:
                return
        await asyncio.sleep(0.05)
    raise AssertionError("the server did not take connections again")


async def test_too_many_headers_is_431() -> None:
    app = HeaderCountMiddleware(create_app(demo_config_with("http://127.0.0.1:9")), max_headers=10)
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://gateway") as client:
        headers = [(f"x-h{i}", "1") for i in range(11)]
        response = await client.get("/healthz", headers=headers)
        assert response.status_code == 431
        error = response.json()["errors"][0]
        assert error["extensions"] == {
            "code": "BAD_USER_INPUT",
            "limit": "max_headers",
            "allowed": 10,
        }
        assert (await client.get("/healthz")).status_code == 200
