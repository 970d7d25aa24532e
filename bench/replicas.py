"""Two gateway replicas sharing one Redis, against one replica, in one interleaved run.

    .venv/bin/python bench/replicas.py [--concurrency 32] [--duration 6] [--repeat 3] [--latency-ms 20]

Starts a sandbox, a real ``redis-server`` (Debian's package), one gateway alone, and two gateways
sharing the Redis, each one process. The load generator spreads its requests over the replicas in
turn, as a round-robin load balancer would. Scenarios: one execution and 20 executions uncached
(ids rotated, cache off), and a "finished executions, cached" mix in which every id is a terminal
execution asked repeatedly: its upstream calls per request, with one replica, with two that share
nothing (memory) and with two that share Redis, show the cache hit ratio across replicas.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import shutil
import socket
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
    KEEPALIVE_S,
    RESULTS,
    Round,
    free_port,
    percentile,
    sandbox_calls,
    scenarios,
    start_gateway,
    start_sandbox,
    stop_all,
    wait_ready,
    write_config,
)

from sandbox import Sandbox  # noqa: E402

WARMUP_S = 2.0
CURSOR_SECRET = "bench-cursor-secret-0123456789abcdef"  # noqa: S105 (a benchmark's own)


def start_redis(tmp: Path) -> tuple[subprocess.Popen[bytes], str]:
    binary = shutil.which("redis-server")
    if binary is None:
        raise SystemExit("redis-server is not installed (apt-get install redis-server)")
    port = free_port()
    process = subprocess.Popen(
        [
            binary,
            "--port",
            str(port),
            "--bind",
            "127.0.0.1",
            "--save",
            "",
            "--appendonly",
            "no",
            "--dir",
            str(tmp),
        ],
        stdout=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                return process, f"redis://127.0.0.1:{port}/0"
        except OSError:
            time.sleep(0.05)
    raise SystemExit("redis-server did not start")


def gateway(
    tmp: Path, name: str, sandbox_url: str, *, cached: bool, redis_url: str | None
) -> tuple[subprocess.Popen[bytes], str]:
    port = free_port()
    config = tmp / f"{name}.toml"
    env = write_config(config, sandbox_url, port, cached=cached, client="httptools")
    env["CURSOR_SECRET"] = CURSOR_SECRET
    env["GATEWAY__SERVER__CURSOR_SECRET_ENV"] = "CURSOR_SECRET"  # noqa: S105 (a variable name)
    # Whole answers off, so every request reaches the execution store.
    env["GATEWAY__CACHE__ANSWERS_MAX_ENTRIES"] = "0"
    if redis_url is not None:
        env |= {
            "REDIS_URL": redis_url,
            "GATEWAY__STATE__BACKEND": "redis",
            "GATEWAY__STATE__REDIS_URL_ENV": "REDIS_URL",
        }
    return start_gateway(config, env), f"http://127.0.0.1:{port}"


async def spread(
    session: aiohttp.ClientSession,
    urls: list[str],
    bodies: list[bytes],
    concurrency: int,
    seconds: float,
) -> tuple[list[float], int]:
    """A closed loop over ``urls`` in turn, as a round-robin load balancer sends them."""
    latencies: list[float] = []
    errors = 0
    sent = 0
    stop = time.monotonic() + seconds
    headers = {"content-type": "application/json"}

    async def worker() -> None:
        nonlocal errors, sent
        while time.monotonic() < stop:
            url, body = urls[sent % len(urls)], bodies[sent % len(bodies)]
            sent += 1
            started = time.perf_counter()
            async with session.post(url, data=body, headers=headers) as response:
                payload = await response.read()
            latencies.append(time.perf_counter() - started)
            if response.status != 200 or b'"errors"' in payload:
                errors += 1

    await asyncio.gather(*(worker() for _ in range(concurrency)))
    return latencies, errors


def bodies_for(name: str) -> list[bytes]:
    if name == "finished executions, cached":
        seeded = Sandbox()
        done = [
            f"rv:{i}"
            for i, e in seeded.rotavision.executions.items()
            if e.get("status") == "completed"
        ][:40]
        query = "query One($id: ID!) { execution(id: $id) { id status startedAt steps { kind status } } }"
        return [json.dumps({"query": query, "variables": {"id": i}}).encode() for i in done]
    scenario = next(s for s in scenarios() if s.name == name)
    return [
        json.dumps({"query": scenario.query, "variables": v}).encode() for v in scenario.variables
    ]


async def measure(
    args: argparse.Namespace, sandbox_url: str, systems: dict[str, list[str]]
) -> list[dict[str, Any]]:
    names = ["one execution", "20 executions, four kinds", "finished executions, cached"]
    rows: dict[tuple[str, str], list[Round]] = {}
    async with aiohttp.ClientSession(
        connector=aiohttp.TCPConnector(limit=args.concurrency * 2, keepalive_timeout=KEEPALIVE_S)
    ) as session:
        await wait_ready(session, f"{sandbox_url}/_sandbox/stats", PROCESSES[0])
        for urls in systems.values():
            for url in urls:
                await wait_ready(session, f"{url}/healthz", PROCESSES[0])
        for repeat in range(args.repeat):
            for name in names:
                bodies = bodies_for(name)
                cached = name.endswith("cached")
                order = list(systems) if repeat % 2 == 0 else list(reversed(systems))
                for system in order:
                    if cached != system.endswith("(cache on)"):
                        continue
                    urls = [f"{u}/graphql" for u in systems[system]]
                    if repeat == 0 and cached:
                        COLD[system] = await cold_pass(session, sandbox_url, urls, bodies)
                    if repeat == 0:
                        await spread(session, urls, bodies, args.concurrency, WARMUP_S)
                    before = await sandbox_calls(session, sandbox_url)
                    started = time.perf_counter()
                    latencies, errors = await spread(
                        session, urls, bodies, args.concurrency, args.duration
                    )
                    elapsed = time.perf_counter() - started
                    calls = await sandbox_calls(session, sandbox_url) - before
                    rows.setdefault((name, system), []).append(
                        Round(latencies, errors, elapsed, calls)
                    )
                    print(
                        f"  round {repeat + 1} {name} / {system}: {len(latencies) / elapsed:.0f} req/s",
                        flush=True,
                    )
    results = []
    for (name, system), rounds in rows.items():
        latencies = [x for r in rounds for x in r.latencies]
        rates = sorted(r.requests_per_s for r in rounds)
        results.append(
            {
                "scenario": name,
                "system": system,
                "requests_per_s": round(rates[len(rates) // 2], 1),
                "range": [round(rates[0], 1), round(rates[-1], 1)],
                "p50_ms": round(percentile(latencies, 0.5), 1),
                "p99_ms": round(percentile(latencies, 0.99), 1),
                "upstream_calls_per_request": round(
                    sum(r.upstream_calls for r in rounds) / max(1, len(latencies)), 3
                ),
                "errors": sum(r.errors for r in rounds),
            }
        )
    return results


PROCESSES: list[subprocess.Popen[bytes]] = []
COLD: dict[str, float] = {}
"""Per cached system: upstream calls per distinct id when every id is asked once of each replica."""


async def cold_pass(
    session: aiohttp.ClientSession, sandbox_url: str, urls: list[str], bodies: list[bytes]
) -> float:
    """Each id asked once of every replica in turn, from cold: what the cache saves across them."""
    before = await sandbox_calls(session, sandbox_url)
    for body in bodies:
        for url in urls:
            async with session.post(
                url, data=body, headers={"content-type": "application/json"}
            ) as r:
                await r.read()
    return (await sandbox_calls(session, sandbox_url) - before) / len(bodies)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--concurrency", type=int, default=32)
    parser.add_argument("--duration", type=float, default=6.0)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--latency-ms", type=float, default=20.0)
    parser.add_argument("--output", type=Path)
    args = parser.parse_args()
    print(
        f"machine: {platform.machine()}, {os.cpu_count()} CPUs; concurrency {args.concurrency}, "
        f"upstream latency {args.latency_ms} ms, {args.repeat} rounds of {args.duration} s",
        flush=True,
    )
    tmp = Path(tempfile.mkdtemp(prefix="gateway-replicas-bench-"))
    sandbox_port = free_port()
    sandbox_url = f"http://127.0.0.1:{sandbox_port}"
    PROCESSES.append(start_sandbox(sandbox_port, args.latency_ms))
    redis, redis_url = start_redis(tmp)
    PROCESSES.append(redis)
    systems: dict[str, list[str]] = {}
    try:
        for cached in (False, True):
            suffix = " (cache on)" if cached else ""
            one, one_url = gateway(tmp, f"one{cached}", sandbox_url, cached=cached, redis_url=None)
            PROCESSES.append(one)
            systems[f"one replica{suffix}"] = [one_url]
            if cached:
                pair = [
                    gateway(tmp, f"mem{n}", sandbox_url, cached=True, redis_url=None)
                    for n in range(2)
                ]
                PROCESSES.extend(p for p, _ in pair)
                systems[f"two replicas, memory{suffix}"] = [u for _, u in pair]
            pair = [
                gateway(tmp, f"redis{cached}{n}", sandbox_url, cached=cached, redis_url=redis_url)
                for n in range(2)
            ]
            PROCESSES.extend(p for p, _ in pair)
            systems[f"two replicas, redis{suffix}"] = [u for _, u in pair]
        results = asyncio.run(measure(args, sandbox_url, systems))
    finally:
        stop_all(PROCESSES)
    print("| scenario | system | req/s (range) | p50 / p99 ms | upstream calls/request | errors |")
    print("|---|---|---|---|---|---|")
    for r in results:
        print(
            f"| {r['scenario']} | {r['system']} | {r['requests_per_s']} ({r['range'][0]}-{r['range'][1]}) "
            f"| {r['p50_ms']} / {r['p99_ms']} | {r['upstream_calls_per_request']} | {r['errors']} |"
        )
    print(
        "cold pass, upstream calls per distinct finished execution asked of every replica: "
        + ", ".join(f"{k}: {v:.2f}" for k, v in COLD.items())
    )
    output = (
        args.output or RESULTS / f"{time.strftime('%Y-%m-%d')}-replicas-c{args.concurrency}.json"
    )
    output.write_text(
        json.dumps(
            {
                "args": {k: str(v) for k, v in vars(args).items()},
                "results": results,
                "cold_pass": COLD,
            },
            indent=2,
        )
        + "\n"
    )
    print(f"written: {output}")


if __name__ == "__main__":
    main()
