"""The three upstream clients side by side: one sandbox, one uncached gateway per client.

    .venv/bin/python bench/transports.py [--concurrency 32] [--duration 5] [--repeat 3]
                                         [--scenario "20 executions, four kinds"] [--no-pin]

Rounds alternate between the clients (httptools, aiohttp, httpx), so a slow spell of a shared
machine lands on all three rather than on one; each client's rounds are pooled as bench/run.py
pools a scenario's. Every gateway runs on core 0 (only the one being driven is busy), the sandbox
and the load on the rest. Writes bench/results/<date>-transports-c<concurrency>.json.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import sys
import tempfile
import time
from dataclasses import asdict
from pathlib import Path

import aiohttp

sys.path.insert(0, str(Path(__file__).resolve().parent))

from typing import TYPE_CHECKING

from run import (
    KEEPALIVE_S,
    RESULTS,
    ROUND_WARMUP_S,
    WARMUP_S,
    Result,
    Round,
    cpu_sets,
    drive,
    free_port,
    pooled,
    print_row,
    sandbox_calls,
    scenarios,
    start_gateway,
    start_sandbox,
    stop_all,
    wait_ready,
    write_config,
)

from adapters.transports import UPSTREAM_CLIENTS

if TYPE_CHECKING:
    import subprocess


async def measure(
    args: argparse.Namespace,
    sandbox_url: str,
    gateways: dict[str, str],
    processes: list[subprocess.Popen[bytes]],
) -> list[Result]:
    (scenario,) = [s for s in scenarios() if s.name == args.scenario]
    connector = aiohttp.TCPConnector(limit=args.concurrency, keepalive_timeout=KEEPALIVE_S)
    async with aiohttp.ClientSession(connector=connector) as session:
        await wait_ready(session, f"{sandbox_url}/_sandbox/stats", processes[0])
        for base, process in zip(gateways.values(), processes[1:], strict=True):
            await wait_ready(session, f"{base}/healthz", process)
        for base in gateways.values():
            await drive(session, f"{base}/graphql", scenario, args.concurrency, WARMUP_S)
        rounds: dict[str, list[Round]] = {client: [] for client in gateways}
        for _ in range(args.repeat):
            for client, base in gateways.items():
                url = f"{base}/graphql"
                await drive(session, url, scenario, args.concurrency, ROUND_WARMUP_S)
                before = await sandbox_calls(session, sandbox_url)
                started = time.perf_counter()
                latencies, errors = await drive(
                    session, url, scenario, args.concurrency, args.duration
                )
                elapsed = time.perf_counter() - started
                calls = await sandbox_calls(session, sandbox_url) - before
                rounds[client].append(Round(latencies, errors, elapsed, calls))
        results = [pooled(f"{scenario.name} [{c}]", r) for c, r in rounds.items()]
        for result in results:
            print_row(result)
        return results


def run(args: argparse.Namespace) -> list[Result]:
    gateway_cpus, other_cpus = cpu_sets(args.pin)
    if other_cpus is not None:
        os.sched_setaffinity(0, other_cpus)
    sandbox_port = free_port()
    sandbox_url = f"http://127.0.0.1:{sandbox_port}"
    tmp = Path(tempfile.mkdtemp(prefix="gateway-bench-"))
    processes = [start_sandbox(sandbox_port, args.latency_ms, other_cpus)]
    gateways: dict[str, str] = {}
    try:
        for client in UPSTREAM_CLIENTS:
            port = free_port()
            config = tmp / f"gateway-{client}.toml"
            env = write_config(config, sandbox_url, port, cached=False, client=client)
            processes.append(start_gateway(config, env, gateway_cpus))
            gateways[client] = f"http://127.0.0.1:{port}"
        return asyncio.run(measure(args, sandbox_url, gateways, processes))
    finally:
        stop_all(processes)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--concurrency", type=int, default=32)
    parser.add_argument("--duration", type=float, default=5.0, help="seconds per round")
    parser.add_argument("--repeat", type=int, default=3, help="rounds per client")
    parser.add_argument("--latency-ms", type=float, default=20.0)
    parser.add_argument("--scenario", default="20 executions, four kinds")
    parser.add_argument("--no-pin", dest="pin", action="store_false")
    args = parser.parse_args()
    print(
        f"machine: {platform.machine()}, {os.cpu_count()} CPUs, Python {platform.python_version()}; "
        f"concurrency {args.concurrency}, upstream latency {args.latency_ms} ms"
    )
    print(
        "| scenario [client]            |    req/s | req/s range   | p50 ms  | p90 ms  | p99 ms  "
        "| upstream/req   | errors |"
    )
    print("|---|---|---|---|---|---|---|---|")
    results = run(args)
    RESULTS.mkdir(parents=True, exist_ok=True)
    output = RESULTS / f"{time.strftime('%Y-%m-%d')}-transports-c{args.concurrency}.json"
    settings = {k: v for k, v in vars(args).items()}
    body = {
        "machine": {"cpus": os.cpu_count(), "python": platform.python_version()},
        "settings": settings,
        "results": [asdict(r) for r in results],
    }
    output.write_text(json.dumps(body, indent=2) + "\n")
    print(f"results: {output}")


if __name__ == "__main__":
    main()
