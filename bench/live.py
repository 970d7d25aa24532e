"""Benchmark: webhook-to-subscriber latency, and memory per idle subscription.

    .venv/bin/python bench/live.py [--subscribers 1 100 1000] [--rounds 30] [--connections 50]

The gateway runs as its own process (``gateway serve``); the sandbox runs on a thread of this
one, so each round can change a Velt execution upstream, then POST the signed webhook that says
so. A round's latency, per subscriber, is from just before that POST to the subscriber's
``next`` message; p50/p99 are over every subscriber of every round. Subscribers share up to
``--connections`` WebSockets (graphql-transport-ws). Memory: the gateway's resident set before
and after opening 1,000 idle subscriptions, divided by 1,000. Results go to
bench/results/<date>-live.json.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx
from websockets.asyncio.client import ClientConnection, connect
from websockets.typing import Subprotocol

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from run import free_port  # noqa: E402

from gateway.demo import demo_raw_config  # noqa: E402
from gateway.http.threaded_server import ThreadedServer  # noqa: E402
from sandbox import Sandbox, SandboxConfig  # noqa: E402
from sandbox.webhooks import WebhookEvent, signed_delivery  # noqa: E402

GATEWAY = [str(ROOT / ".venv" / "bin" / "gateway")]
PROTOCOL = Subprotocol("graphql-transport-ws")
QUERY = "subscription($id: ID!) { executionChanged(id: $id) { id status } }"
IDLE_SUBSCRIPTIONS = 1000
WARMUP_ROUNDS = 3


def toml_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return repr(value)
    return json.dumps(value)


def write_config(path: Path, sandbox_url: str, port: int) -> dict[str, str]:
    raw, env = demo_raw_config(sandbox_url, port=port)
    lines = ["[server]", 'host = "127.0.0.1"', f"port = {port}"]
    lines += ["", "[auth]", 'mode = "none"', "", "[logging]", 'level = "warning"']
    lines += ["", "[live]", "max_subscriptions_per_client = 20000", "max_subscriptions = 20000"]
    lines += ["subscriber_queue = 256"]
    for source in raw["sources"]:
        lines += ["", "[[sources]]"] + [f"{k} = {toml_value(v)}" for k, v in source.items()]
    path.write_text("\n".join(lines) + "\n")
    return env


def rss_kib(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    raise RuntimeError("no VmRSS")


class Subscribers:
    """``count`` subscriptions to one execution over up to ``connections`` sockets."""

    def __init__(self, url: str, execution_id: str, count: int, connections: int) -> None:
        self.url = url
        self.execution_id = execution_id
        self.count = count
        self.connections = max(1, min(connections, count))
        self.sockets: list[ClientConnection] = []
        self.arrivals: list[float] = []
        self._target = 0
        self._done = asyncio.Event()
        self._readers: list[asyncio.Task[None]] = []

    async def open(self) -> None:
        per_socket = [self.count // self.connections] * self.connections
        for index in range(self.count % self.connections):
            per_socket[index] += 1
        for size in per_socket:
            socket_ = await connect(self.url, subprotocols=[PROTOCOL], max_size=None)
            await socket_.send(json.dumps({"type": "connection_init", "payload": {}}))
            assert json.loads(await socket_.recv())["type"] == "connection_ack"
            for n in range(size):
                payload = {"query": QUERY, "variables": {"id": self.execution_id}}
                await socket_.send(
                    json.dumps({"id": str(n), "type": "subscribe", "payload": payload})
                )
            self.sockets.append(socket_)
        self._expect(self.count)
        self._readers = [asyncio.create_task(self._read(s)) for s in self.sockets]
        await asyncio.wait_for(self._done.wait(), 60)  # the current state, once each

    def _expect(self, count: int) -> None:
        self.arrivals = []
        self._target = count
        self._done.clear()

    async def _read(self, socket_: ClientConnection) -> None:
        async for raw in socket_:
            message = json.loads(raw)
            if message["type"] == "ping":
                await socket_.send(json.dumps({"type": "pong"}))
            elif message["type"] == "next":
                self.arrivals.append(time.perf_counter())
                if len(self.arrivals) >= self._target:
                    self._done.set()

    async def round(self, trigger: Any) -> list[float]:
        self._expect(self.count)
        started = time.perf_counter()
        await trigger()
        await asyncio.wait_for(self._done.wait(), 60)
        return [(t - started) * 1000 for t in self.arrivals]

    async def close(self) -> None:
        for reader in self._readers:
            reader.cancel()
        for socket_ in self.sockets:
            await socket_.close()


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(share * len(ordered)))]


async def measure(args: argparse.Namespace, sandbox: Sandbox, url: str, pid: int) -> dict[str, Any]:
    run_id = next(
        i
        for i, r in sandbox.velt.executions.items()
        if r["status"] == "running" and not any(s["status"] == "waiting" for s in r["steps"])
    )
    ws_url = url.replace("http://", "ws://") + "/graphql"
    results: dict[str, Any] = {"latency_ms": {}, "memory": {}}
    async with httpx.AsyncClient(base_url=url, timeout=30) as http:
        counter = 0

        async def trigger() -> None:
            nonlocal counter
            counter += 1
            sandbox.velt.executions[run_id]["definitionVersion"] = 100 + counter
            body, headers = signed_delivery(
                WebhookEvent("velt", run_id, "step.completed"), "whsec_sandbox_velt"
            )
            response = await http.post("/webhooks/velt", content=body, headers=headers)
            assert response.status_code == 202, response.text

        # Memory first, in a fresh process: later runs leave freed memory the allocator keeps.
        await asyncio.sleep(1)
        before = rss_kib(pid)
        idle = Subscribers(ws_url, f"velt:{run_id}", IDLE_SUBSCRIPTIONS, 10)
        await idle.open()
        await asyncio.sleep(1)
        after = rss_kib(pid)
        await idle.close()
        per = (after - before) * 1024 / IDLE_SUBSCRIPTIONS
        results["memory"] = {
            "idle_subscriptions": IDLE_SUBSCRIPTIONS,
            "connections": 10,
            "rss_before_kib": before,
            "rss_after_kib": after,
            "bytes_per_subscription": round(per),
        }
        print(
            f"memory: {per / 1024:.1f} KiB per idle subscription "
            f"({IDLE_SUBSCRIPTIONS} over 10 sockets)"
        )
        await asyncio.sleep(1)

        for count in args.subscribers:
            subscribers = Subscribers(ws_url, f"velt:{run_id}", count, args.connections)
            await subscribers.open()
            for _ in range(WARMUP_ROUNDS):
                await subscribers.round(trigger)
            latencies: list[float] = []
            for _ in range(args.rounds):
                latencies += await subscribers.round(trigger)
            await subscribers.close()
            row = {
                "subscribers": count,
                "rounds": args.rounds,
                "p50": round(statistics.median(latencies), 2),
                "p99": round(percentile(latencies, 0.99), 2),
                "max": round(max(latencies), 2),
            }
            results["latency_ms"][str(count)] = row
            print(f"{count:>5} subscribers: p50 {row['p50']:.2f} ms, p99 {row['p99']:.2f} ms")
            await asyncio.sleep(1)
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--subscribers", type=int, nargs="+", default=[1, 100, 1000])
    parser.add_argument("--rounds", type=int, default=30)
    parser.add_argument("--connections", type=int, default=50)
    args = parser.parse_args()
    sandbox = Sandbox(SandboxConfig(executions_per_source=40))
    server = ThreadedServer(sandbox.app())
    sandbox_url = server.start()
    port = free_port()
    config = Path(tempfile.mkdtemp(prefix="gateway-live-bench-")) / "gateway.toml"
    env = write_config(config, sandbox_url, port)
    process = subprocess.Popen(
        [*GATEWAY, "serve", "--config", str(config)], cwd=ROOT, env={**os.environ, **env}
    )
    try:
        url = f"http://127.0.0.1:{port}"
        for _ in range(300):
            try:
                if httpx.get(f"{url}/readyz", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            time.sleep(0.1)
        results = asyncio.run(measure(args, sandbox, url, process.pid))
        results["date"] = time.strftime("%Y-%m-%d")
        results["cpus"] = os.cpu_count()
        out = ROOT / "bench" / "results" / f"{results['date']}-live.json"
        out.write_text(json.dumps(results, indent=2) + "\n")
        print(f"wrote {out.relative_to(ROOT)}")
    finally:
        process.send_signal(signal.SIGINT)
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
        server.stop()


if __name__ == "__main__":
    main()
