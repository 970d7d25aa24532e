"""Two or more builds of the gateway side by side: requests/s and each process's CPU per request.

    .venv/bin/python bench/builds.py TREE [TREE ...] [--rounds 6] [--duration 4] [--latency-ms 20]
                                     [--concurrency 32] [--scenario NAME ...] [--output FILE]
                                     [--clients httptools,aiohttp,httpx]

Each TREE is a checkout with its own ``.venv`` (``git worktree add --detach ../before <commit>``,
then ``scripts/install`` there). Every tree's gateway runs as its own process, with the config its
own ``bench/run.py`` writes (older builds know fewer keys), in front of one sandbox started from
this checkout. wrk drives them (``apt-get install wrk``) in rounds taken in turn, the order
reversed every other round, so a slow spell of the shared machine lands on all builds alike.

Besides requests/s and latency, it reads each gateway's CPU time from ``/proc`` around every
round: CPU milliseconds per request is the steadiest measure of what a build costs on a machine
whose speed drifts, since it does not depend on how much of the machine the build got.

``--clients`` runs each tree once per upstream client (``server.upstream_client``), so
``bench/builds.py . --clients httptools,aiohttp,httpx`` compares the three clients of one build.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import aiohttp

BENCH = Path(__file__).resolve().parent
sys.path.insert(0, str(BENCH))

from peer import pairs  # noqa: E402
from run import (  # noqa: E402
    RESULTS,
    ROOT,
    cpu_seconds,
    drive_wrk,
    free_port,
    start_sandbox,
    stop_all,
    wait_ready,
)

WRITE_CONFIG = """
import json, sys
sys.path.insert(0, "bench")
from pathlib import Path
from run import write_config
env = write_config(Path(sys.argv[1]), sys.argv[2], int(sys.argv[3]), cached=sys.argv[4] == "1",
                   client=sys.argv[5])
print(json.dumps(env))
"""
"""Run by each tree's own Python in the tree: its own idea of a benchmark config."""


@dataclass
class Row:
    scenario: str
    tree: str
    requests_per_s: float
    requests_per_s_min: float
    requests_per_s_max: float
    cpu_ms_per_request: float
    """The median round's."""
    p50_ms: float
    p99_ms: float
    """Medians over the rounds."""
    errors: int


@dataclass(frozen=True)
class Build:
    """One gateway measured: a tree, with one upstream client."""

    tree: Path
    client: str
    label: str


def start_build(
    build: Build, folder: Path, sandbox_url: str, *, cached: bool
) -> tuple[subprocess.Popen[bytes], str]:
    """The tree's gateway, configured by the tree's own bench/run.py."""
    tree = build.tree
    python = str(tree / ".venv" / "bin" / "python")
    port = free_port()
    config = folder / f"{build.label}-{'cached' if cached else 'uncached'}.toml"
    written = subprocess.run(
        [
            python,
            "-c",
            WRITE_CONFIG,
            str(config),
            sandbox_url,
            str(port),
            str(int(cached)),
            build.client,
        ],
        cwd=tree,
        check=True,
        capture_output=True,
        text=True,
    )
    env = {**os.environ, **json.loads(written.stdout.strip().splitlines()[-1])}
    process = subprocess.Popen(
        [python, "-m", "gateway", "serve", "--config", str(config)], cwd=tree, env=env
    )
    return process, f"http://127.0.0.1:{port}"


async def measure(args: argparse.Namespace, trees: list[Build]) -> list[Row]:
    folder = Path(tempfile.mkdtemp(prefix="gateway-builds-"))
    sandbox_port = free_port()
    sandbox_url = f"http://127.0.0.1:{sandbox_port}"
    processes = [start_sandbox(sandbox_port, args.latency_ms)]
    chosen = [p for p in pairs() if not args.scenario or p.name in args.scenario]
    gateways: dict[tuple[Build, bool], tuple[subprocess.Popen[bytes], str]] = {}
    rounds: dict[tuple[str, Build], list[tuple[float, float, float, float, int]]] = {}
    try:
        for cached in sorted({p.cached for p in chosen}):
            for tree in trees:
                gateways[(tree, cached)] = start_build(tree, folder, sandbox_url, cached=cached)
                processes.append(gateways[(tree, cached)][0])
        async with aiohttp.ClientSession() as session:
            await wait_ready(session, f"{sandbox_url}/_sandbox/stats", processes[0])
            for process, url in gateways.values():
                await wait_ready(session, f"{url}/healthz", process)
        for number in range(args.rounds):
            for pair in chosen:
                for tree in trees if number % 2 == 0 else trees[::-1]:
                    process, url = gateways[(tree, pair.cached)]
                    await drive_wrk(f"{url}/graphql", pair.ours, args.concurrency, 1)  # warm-up
                    before = cpu_seconds(process.pid)
                    latencies, answered, errors, elapsed = await drive_wrk(
                        f"{url}/graphql", pair.ours, args.concurrency, args.duration
                    )
                    cpu_ms = 1000 * (cpu_seconds(process.pid) - before) / max(1, answered)
                    p50, p99 = latencies[499] * 1000, latencies[989] * 1000
                    rounds.setdefault((pair.name, tree), []).append(
                        (answered / elapsed, cpu_ms, p50, p99, errors)
                    )
                    print(
                        f"  round {number + 1}/{args.rounds} {pair.name} / {tree.label}: "
                        f"{answered / elapsed:.0f} req/s, {cpu_ms:.3f} ms CPU per request",
                        flush=True,
                    )
    finally:
        stop_all(processes)
    rows = []
    for (scenario, tree), measured in rounds.items():
        rates = sorted(m[0] for m in measured)
        rows.append(
            Row(
                scenario=scenario,
                tree=tree.label,
                requests_per_s=round(statistics.median(rates), 1),
                requests_per_s_min=round(rates[0], 1),
                requests_per_s_max=round(rates[-1], 1),
                cpu_ms_per_request=round(statistics.median(m[1] for m in measured), 3),
                p50_ms=round(statistics.median(m[2] for m in measured), 1),
                p99_ms=round(statistics.median(m[3] for m in measured), 1),
                errors=sum(m[4] for m in measured),
            )
        )
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("trees", nargs="+", help="checkouts with their own .venv")
    parser.add_argument("--rounds", type=int, default=6)
    parser.add_argument("--duration", type=float, default=4.0, help="seconds per round")
    parser.add_argument("--latency-ms", type=float, default=20.0)
    parser.add_argument("--concurrency", type=int, default=32)
    parser.add_argument("--scenario", action="append")
    parser.add_argument("--output", type=Path)
    parser.add_argument(
        "--clients", default="httptools", help="comma-separated upstream clients, each a build"
    )
    args = parser.parse_args()
    print(
        f"machine: {platform.machine()}, {os.cpu_count()} CPUs; concurrency {args.concurrency}, "
        f"upstream latency {args.latency_ms} ms, {args.rounds} rounds of {args.duration} s",
        flush=True,
    )
    clients = args.clients.split(",")
    builds = [
        Build(tree, client, tree.name if len(clients) == 1 else f"{tree.name}[{client}]")
        for tree in (Path(t).resolve() for t in args.trees)
        for client in clients
    ]
    rows = asyncio.run(measure(args, builds))
    print("| scenario | build | req/s (range) | CPU ms per request | p50 / p99 ms | errors |")
    print("|---|---|---|---|---|---|")
    for row in rows:
        print(
            f"| {row.scenario} | {row.tree} | {row.requests_per_s} "
            f"({row.requests_per_s_min}-{row.requests_per_s_max}) | {row.cpu_ms_per_request} "
            f"| {row.p50_ms} / {row.p99_ms} | {row.errors} |"
        )
    output = args.output or RESULTS / f"{time.strftime('%Y-%m-%d')}-builds-c{args.concurrency}.json"
    output.parent.mkdir(parents=True, exist_ok=True)
    output.write_text(
        json.dumps({"args": vars(args), "rows": [asdict(r) for r in rows]}, indent=2, default=str)
        + "\n"
    )
    print(f"written: {output.relative_to(ROOT) if output.is_relative_to(ROOT) else output}")


if __name__ == "__main__":
    main()
