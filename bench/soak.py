"""Memory over a long run: one gateway process under a steady mixed load, its RSS sampled.

    .venv/bin/python bench/soak.py [--minutes 10] [--concurrency 32] [--latency-ms 20]
                                   [--sample-s 10] [--output FILE]

Starts the sandbox and one gateway (default cache on, so hits and expiries both happen), then
drives, one minute at a time with wrk, the peer benchmark's request mix in turn: one execution,
20 executions by ids and as aliased fields, a repeated id, a finished execution (cached). RSS is
read from ``/proc/<pid>/status`` every ``--sample-s``; the report gives the first and last minute's
medians, the peak, and the growth per minute over the second half (a leak shows as a steady
slope there, where warm-up has settled).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path

import aiohttp

BENCH = Path(__file__).resolve().parent
sys.path.insert(0, str(BENCH))

from peer import pairs  # noqa: E402
from run import (  # noqa: E402
    RESULTS,
    drive_wrk,
    free_port,
    start_gateway,
    start_sandbox,
    stop_all,
    wait_ready,
    write_config,
)


def rss_mib(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


async def soak(args: argparse.Namespace) -> dict[str, object]:
    sandbox_port, port = free_port(), free_port()
    sandbox_url = f"http://127.0.0.1:{sandbox_port}"
    config = Path(tempfile.mkdtemp(prefix="gateway-soak-")) / "gateway.toml"
    env = write_config(config, sandbox_url, port, cached=True, client="httptools")
    processes = [start_sandbox(sandbox_port, args.latency_ms), start_gateway(config, env)]
    gateway = processes[1].pid
    samples: list[tuple[float, float]] = []
    answered = errors = 0
    try:
        async with aiohttp.ClientSession() as session:
            await wait_ready(session, f"{sandbox_url}/_sandbox/stats", processes[0])
            await wait_ready(session, f"http://127.0.0.1:{port}/healthz", processes[1])
        mix = [pair.ours for pair in pairs()]
        began = time.monotonic()

        async def sample() -> None:
            while True:
                samples.append((time.monotonic() - began, rss_mib(gateway)))
                await asyncio.sleep(args.sample_s)

        sampler = asyncio.create_task(sample())
        minute = 0
        while time.monotonic() - began < args.minutes * 60:
            bodies = mix[minute % len(mix)]
            _, done, failed, _ = await drive_wrk(
                f"http://127.0.0.1:{port}/graphql", bodies, args.concurrency, 60
            )
            answered, errors = answered + done, errors + failed
            minute += 1
            print(
                f"  minute {minute}: {done / 60:.0f} req/s, RSS {rss_mib(gateway):.1f} MiB",
                flush=True,
            )
        sampler.cancel()
    finally:
        stop_all(processes)
    first = [mib for at, mib in samples if at < 60]
    last = [mib for at, mib in samples if at >= samples[-1][0] - 60]
    half = [(at, mib) for at, mib in samples if at >= samples[-1][0] / 2]
    slope = statistics.linear_regression([a for a, _ in half], [m for _, m in half]).slope * 60
    return {
        "minutes": args.minutes,
        "concurrency": args.concurrency,
        "latency_ms": args.latency_ms,
        "requests": answered,
        "errors": errors,
        "rss_first_minute_mib": round(statistics.median(first), 1),
        "rss_last_minute_mib": round(statistics.median(last), 1),
        "rss_peak_mib": round(max(m for _, m in samples), 1),
        "growth_second_half_mib_per_min": round(slope, 2),
        "samples": [(round(at, 1), round(mib, 1)) for at, mib in samples],
    }


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--minutes", type=float, default=10)
    parser.add_argument("--concurrency", type=int, default=32)
    parser.add_argument("--latency-ms", type=float, default=20)
    parser.add_argument("--sample-s", type=float, default=10)
    parser.add_argument("--output", type=Path)
    args = parser.parse_args()
    result = asyncio.run(soak(args))
    summary = {k: v for k, v in result.items() if k != "samples"}
    print(json.dumps(summary, indent=2))
    output = args.output or RESULTS / f"{time.strftime('%Y-%m-%d')}-soak.json"
    output.write_text(json.dumps(result, indent=2) + "\n")
    print(f"written: {output}")


if __name__ == "__main__":
    main()
