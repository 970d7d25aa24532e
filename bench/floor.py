"""The tail that the server stack alone has at saturation: a cached answer against a constant one.

    .venv/bin/python bench/floor.py [--concurrency 32] [--duration 5] [--rounds 4] [--busy-us 90]

At 32 clients in a closed loop, a cached answer is served at about 10,000 req/s and its p99 sits
near twice its p50. This measures how much of that belongs to the stack the gateway runs on
(uvicorn, uvloop, httptools, wrk, this machine's scheduler) and to the closed loop itself, with the
same answer's bytes served two other ways, driven by the same wrk in rounds taken in turn with the
gateway's cached answer:

- a constant ASGI app of a few lines on the same uvicorn stack;
- a fixed-cost server: one uvloop protocol, no framework, that spends exactly ``--busy-us`` of CPU
  on every request (about what the gateway spends on a cached answer) and then answers. Every
  request costs the same, so whatever spread its latencies have comes from the closed loop of 32
  clients on one event loop, not from the work.

Prints req/s, p50, p90, p99 and p99/p50 for each, and writes
bench/results/<date>-floor-c<concurrency>.json.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import functools
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import aiohttp

BENCH = Path(__file__).resolve().parent
sys.path.insert(0, str(BENCH))

from run import (  # noqa: E402
    RESULTS,
    ROOT,
    drive_wrk,
    free_port,
    start_gateway,
    start_sandbox,
    stop_all,
    wait_ready,
    write_config,
)

ANSWER_ENV = "FLOOR_ANSWER"
SCENARIO = "finished execution, cached"


async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
    """Reads the request body, answers the bytes in ``$FLOOR_ANSWER``: no work of its own."""
    if scope["type"] == "lifespan":
        while (await receive())["type"] != "lifespan.shutdown":
            await send({"type": "lifespan.startup.complete"})
        await send({"type": "lifespan.shutdown.complete"})
        return
    while (await receive()).get("more_body"):
        pass
    body = _answer()
    headers = [(b"content-type", b"application/json"), (b"content-length", b"%d" % len(body))]
    await send({"type": "http.response.start", "status": 200, "headers": headers})
    await send({"type": "http.response.body", "body": body})


@functools.cache
def _answer() -> bytes:
    return Path(os.environ[ANSWER_ENV]).read_bytes()


def start_constant_app(port: int, answer: Path) -> subprocess.Popen[bytes]:
    """``app`` above on uvicorn with the gateway's parser (httptools) and loop (uvloop)."""
    command = [
        *(sys.executable, "-m", "uvicorn", "floor:app", "--app-dir", str(BENCH)),
        *("--port", str(port), "--http", "httptools", "--no-access-log", "--log-level", "warning"),
    ]
    return subprocess.Popen(command, env={**os.environ, ANSWER_ENV: str(answer)})


def serve_fixed_cost(port: int, answer: Path, busy_s: float) -> None:
    """Answer every request after exactly ``busy_s`` of CPU (a busy wait), on a bare uvloop protocol.

    One request per read: wrk sends each (small) request in one write and waits for its answer.
    """
    import uvloop

    body = answer.read_bytes()
    reply = b"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\n"
    reply += b"content-length: %d\r\n\r\n%s" % (len(body), body)
    clock = time.perf_counter

    class FixedCost(asyncio.Protocol):
        def connection_made(self, transport: asyncio.BaseTransport) -> None:
            self.transport: Any = transport

        def data_received(self, data: bytes) -> None:
            until = clock() + busy_s
            while clock() < until:
                pass
            self.transport.write(reply)

    async def serve() -> None:
        server = await asyncio.get_running_loop().create_server(FixedCost, "127.0.0.1", port)
        await server.serve_forever()

    with contextlib.suppress(KeyboardInterrupt):  # stop_all's SIGINT
        uvloop.run(serve())


def start_fixed_cost(port: int, answer: Path, busy_us: float) -> subprocess.Popen[bytes]:
    command = [sys.executable, str(Path(__file__)), "--serve-fixed-cost", str(port), str(answer)]
    return subprocess.Popen([*command, "--busy-us", str(busy_us)])


async def measure(args: argparse.Namespace) -> dict[str, list[dict[str, float]]]:
    from peer import pairs

    folder = Path(tempfile.mkdtemp(prefix="gateway-floor-"))
    sandbox_port, gateway_port, floor_port, fixed_port = (free_port() for _ in range(4))
    sandbox_url = f"http://127.0.0.1:{sandbox_port}"
    processes = [start_sandbox(sandbox_port, args.latency_ms)]
    config = folder / "gateway.toml"
    env = write_config(config, sandbox_url, gateway_port, cached=True, client="httptools")
    processes.append(start_gateway(config, env))
    bodies = next(p for p in pairs() if p.name == SCENARIO).ours
    urls = {
        "gateway, cached answer": f"http://127.0.0.1:{gateway_port}/graphql",
        "constant ASGI app": f"http://127.0.0.1:{floor_port}/graphql",
        f"fixed cost, {args.busy_us:g} us a request": f"http://127.0.0.1:{fixed_port}/graphql",
    }
    rounds: dict[str, list[dict[str, float]]] = {name: [] for name in urls}
    try:
        async with aiohttp.ClientSession() as session:
            await wait_ready(session, f"{sandbox_url}/_sandbox/stats", processes[0])
            await wait_ready(session, f"http://127.0.0.1:{gateway_port}/healthz", processes[1])
            async with session.post(
                urls["gateway, cached answer"],
                data=bodies[0],
                headers={"content-type": "application/json"},
            ) as response:
                answer = await response.read()
            (folder / "answer.json").write_bytes(answer)
            processes.append(start_constant_app(floor_port, folder / "answer.json"))
            await wait_ready(session, urls["constant ASGI app"], processes[-1])
            processes.append(start_fixed_cost(fixed_port, folder / "answer.json", args.busy_us))
            await wait_ready(session, list(urls.values())[2], processes[-1])
        print(f"answer: {len(answer)} bytes, the same from both", flush=True)
        for number in range(args.rounds):
            order = list(urls) if number % 2 == 0 else list(urls)[::-1]
            for name in order:
                await drive_wrk(urls[name], bodies, args.concurrency, 1)  # warm-up
                quantiles, answered, errors, elapsed = await drive_wrk(
                    urls[name], bodies, args.concurrency, args.duration
                )
                row = {
                    "requests_per_s": answered / elapsed,
                    "p50_ms": quantiles[499] * 1000,
                    "p90_ms": quantiles[899] * 1000,
                    "p99_ms": quantiles[989] * 1000,
                    "errors": errors,
                }
                rounds[name].append(row)
                print(
                    f"  round {number + 1}/{args.rounds} {name}: {row['requests_per_s']:.0f} "
                    f"req/s, p50 {row['p50_ms']:.2f} ms, p99 {row['p99_ms']:.2f} ms, "
                    f"p99/p50 {row['p99_ms'] / row['p50_ms']:.2f}",
                    flush=True,
                )
    finally:
        stop_all(processes)
    return rounds


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--concurrency", type=int, default=32)
    parser.add_argument("--duration", type=float, default=5.0, help="seconds per round")
    parser.add_argument("--rounds", type=int, default=4)
    parser.add_argument("--latency-ms", type=float, default=20.0, help="the sandbox's, on a miss")
    parser.add_argument("--output", type=Path)
    parser.add_argument(
        "--busy-us", type=float, default=90.0, help="the fixed-cost server's CPU per request"
    )
    parser.add_argument("--serve-fixed-cost", nargs=2, metavar=("PORT", "ANSWER"), help="internal")
    args = parser.parse_args()
    if args.serve_fixed_cost:
        port, answer = args.serve_fixed_cost
        serve_fixed_cost(int(port), Path(answer), args.busy_us / 1e6)
        return
    if shutil.which("wrk") is None:
        sys.exit("bench/floor.py needs wrk as its load generator: apt-get install wrk")
    print(
        f"machine: {platform.machine()}, {os.cpu_count()} CPUs; concurrency {args.concurrency}, "
        f"{args.rounds} rounds of {args.duration} s",
        flush=True,
    )
    rounds = asyncio.run(measure(args))
    print("| server | req/s (median, range) | p50 / p90 / p99 ms | p99/p50 (median, range) |")
    print("|---|---|---|---|")
    summary = {}
    for name, measured in rounds.items():
        rates = sorted(r["requests_per_s"] for r in measured)
        ratios = sorted(r["p99_ms"] / r["p50_ms"] for r in measured)
        medians = {k: statistics.median(r[k] for r in measured) for k in measured[0]}
        summary[name] = {**medians, "p99_over_p50": statistics.median(ratios)}
        print(
            f"| {name} | {statistics.median(rates):.0f} ({rates[0]:.0f}-{rates[-1]:.0f}) | "
            f"{medians['p50_ms']:.2f} / {medians['p90_ms']:.2f} / {medians['p99_ms']:.2f} | "
            f"{statistics.median(ratios):.2f} ({ratios[0]:.2f}-{ratios[-1]:.2f}) |"
        )
    output = args.output or RESULTS / f"{time.strftime('%Y-%m-%d')}-floor-c{args.concurrency}.json"
    output.parent.mkdir(parents=True, exist_ok=True)
    output.write_text(
        json.dumps(
            {"args": vars(args), "summary": summary, "rounds": rounds}, indent=2, default=str
        )
        + "\n"
    )
    print(f"written: {output.relative_to(ROOT) if output.is_relative_to(ROOT) else output}")


if __name__ == "__main__":
    main()
