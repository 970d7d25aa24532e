"""Side by side with the peer gateway (GraphQL Mesh on Hive Gateway), in one interleaved run.

    .venv/bin/python bench/peer.py [--concurrency 32] [--duration 6] [--repeat 3] [--latency-ms 20]
                                   [--scenario NAME ...] [--workers 1] [--load wrk|python]
                                   [--output FILE]

Starts one sandbox (all four upstreams), this gateway twice (cache off, and the default cache) and
the peer twice (response cache off, and on), each one process (or ``--workers`` processes each:
ours with ``--workers``, the peer with Hive Gateway's ``--fork``), unpinned. Every scenario runs on both
systems in rounds taken in turn (ours, the peer, ours, ...), so a slow spell of the shared machine
hits both alike; ids rotate per request so neither answers from a cache unless the scenario is the
cached one. Prints requests/s (median round and range), p50/p99 latency, upstream calls per request
(counted by the sandbox), each process's peak memory, and the ratio ours/peer.

The load comes from wrk when it is installed (`apt-get install wrk`): a C program that costs the
shared machine a few microseconds per request, where the Python loop (`--load python`) costs about
what the sandbox does and so took CPU from whichever system was measured. Percentiles then come
from wrk's latency quantiles.

The peer is `bench/peer/` (its README says how it is composed); it needs node and npm, and installs
its packages on first use. Like for like: both ask the same upstream routes for the same ids, with
similar selections (the peer's schema mirrors each upstream's raw shape).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import aiohttp

BENCH = Path(__file__).resolve().parent
sys.path.insert(0, str(BENCH))

from run import (  # noqa: E402
    KEEPALIVE_S,
    RESULTS,
    ROOT,
    Round,
    drive_bodies,
    drive_wrk,
    free_port,
    percentile,
    sandbox_calls,
    start_gateway,
    start_sandbox,
    stop_all,
    tree_cpu_seconds,
    wait_ready,
    write_config,
)

from sandbox import Sandbox, truthlocks  # noqa: E402

PEER = BENCH / "peer"
ROTATIONS = 240
WARMUP_S = 2.0
ROUND_WARMUP_S = 0.5
PEER_CACHE_TTL_MS = 600_000

OUR_FIELDS = "id status startedAt steps { kind status }"
PEER_SELECTIONS = {
    "rv": (
        "rotavisionExecution(execution_id: ${v})",
        "id status created_at steps { id status }",
        "String!",
    ),
    "velt": (
        "veltGetExecution(input: {data: {executionId: ${v}}})",
        "result { executionId status startedAt steps { stepId nodeType status } }",
        "String!",
    ),
    "zaia": ("nestingExecutionTree(executionId: ${v})", "id status startedAt", "UUID"),
    "tl": (
        "truthlocksOrchestration(orchestrationId: ${v})",
        "orchestration_id status started_at steps { step_id status }",
        "UUID!",
    ),
}


@dataclass(frozen=True)
class Pair:
    """One scenario as each system asks it: a list of request bodies, rotated."""

    name: str
    ours: list[bytes]
    peer: list[bytes]
    cached: bool = False


@dataclass
class Row:
    scenario: str
    system: str
    requests_per_s: float
    requests_per_s_min: float
    requests_per_s_max: float
    p50_ms: float
    p99_ms: float
    upstream_calls_per_request: float
    errors: int
    cpu_ms_per_request: float
    """CPU (user + system, the process and its children) over every measured round."""


def _body(query: str, variables: dict[str, Any]) -> bytes:
    return json.dumps({"query": query, "variables": variables}).encode()


def _ours(ids: list[str]) -> bytes:
    if len(ids) == 1:
        return _body(
            f"query One($id: ID!) {{ execution(id: $id) {{ {OUR_FIELDS} }} }}", {"id": ids[0]}
        )
    return _body(
        f"query Many($ids: [ID!]!) {{ executions(ids: $ids) {{ {OUR_FIELDS} }} }}", {"ids": ids}
    )


def _ours_aliased(ids: list[str]) -> bytes:
    """The ids as aliased ``execution(id:)`` root fields, as the peer is asked them."""
    params = ", ".join(f"$v{n}: ID!" for n in range(len(ids)))
    fields = " ".join(f"a{n}: execution(id: $v{n}) {{ {OUR_FIELDS} }}" for n in range(len(ids)))
    variables = {f"v{n}": global_id for n, global_id in enumerate(ids)}
    return _body(f"query Aliased({params}) {{ {fields} }}", variables)


def _peer(ids: list[str]) -> bytes:
    """The same ids as aliased root fields of the peer's per-upstream schema."""
    params, fields, variables = [], [], {}
    for n, global_id in enumerate(ids):
        source, native = global_id.split(":", 1)
        field, selection, type_name = PEER_SELECTIONS[source]
        var = f"v{n}"
        params.append(f"${var}: {type_name}")
        fields.append(f"a{n}: {field.replace('${v}', '$' + var)} {{ {selection} }}")
        variables[var] = native
    return _body(f"query Peer({', '.join(params)}) {{ {' '.join(fields)} }}", variables)


def pairs() -> list[Pair]:
    seeded = Sandbox()
    peer_tl_statuses = {"pending", "running", "completed", "failed", "cancelled"}
    uuid_tl = [
        i
        for i, o in seeded.truthlocks.orchestrations.items()
        if ":" not in i and o.get("status") in peer_tl_statuses
    ]
    # The peer's OpenAPI description declares Rotavision's status as an enum of the documented
    # values; an execution in another state fails there as a whole, so neither system is asked it.
    peer_rv_statuses = {"completed", "running", "waiting_approval", "failed", "cancelled"}
    pools = [
        [
            f"rv:{i}"
            for i, e in seeded.rotavision.executions.items()
            if e.get("status") in peer_rv_statuses
        ],
        [f"velt:{i}" for i in seeded.velt.executions],
        [f"zaia:{i}" for i in seeded.nesting.executions],
        [f"tl:{i}" for i in uuid_tl],
    ]

    def twenty(n: int) -> list[str]:
        return [pools[k % 4][(n * 5 + k // 4) % len(pools[k % 4])] for k in range(20)]

    def repeats(n: int) -> list[str]:
        distinct = twenty(n)[:8]
        return [distinct[k % 8] for k in range(20)]

    singles = [[twenty(n)[n % 4]] for n in range(ROTATIONS)]
    many = [twenty(n) for n in range(ROTATIONS)]
    repeated = [repeats(n) for n in range(ROTATIONS)]
    finished = (
        [[f"tl:{truthlocks.DEMO_COMPLETED_ID}"]] if ":" not in truthlocks.DEMO_COMPLETED_ID else []
    )
    if not finished:
        done = [
            i for i in uuid_tl if seeded.truthlocks.orchestrations[i].get("status") == "completed"
        ]
        finished = [[f"tl:{done[0]}"]]
    return [
        Pair("one execution", [_ours(i) for i in singles], [_peer(i) for i in singles]),
        Pair("20 executions, four kinds", [_ours(i) for i in many], [_peer(i) for i in many]),
        Pair(
            "20 executions, aliased fields",
            [_ours_aliased(i) for i in many],
            [_peer(i) for i in many],
        ),
        Pair(
            # Every client asks the same id, caches off: the lock-step identical requests made.
            "one execution, the same id for all",
            [_ours(singles[0])],
            [_peer(singles[0])],
        ),
        Pair(
            "20 ids with repeats (8 distinct)",
            [_ours(i) for i in repeated],
            [_peer(i) for i in repeated],
        ),
        Pair("finished execution, cached", [_ours(finished[0])], [_peer(finished[0])], cached=True),
    ]


def rss_peak_mib(pid: int) -> float:
    """The process's peak resident set (VmHWM), in MiB."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def start_processes(
    args: argparse.Namespace,
) -> tuple[str, dict[str, str], list[subprocess.Popen[bytes]]]:
    sandbox_port = free_port()
    sandbox_url = f"http://127.0.0.1:{sandbox_port}"
    tmp = Path(tempfile.mkdtemp(prefix="gateway-peer-bench-"))
    processes = [start_sandbox(sandbox_port, args.latency_ms)]
    urls: dict[str, str] = {}
    for cached in (False, True):
        port = free_port()
        config = tmp / f"ours-{cached}.toml"
        env = write_config(config, sandbox_url, port, cached=cached, client=args.upstream_client)
        extra = []
        if args.workers > 1:
            env["GATEWAY__SERVER__METRICS"] = "off"  # one registry per process: off with workers
            extra = ["--workers", str(args.workers)]
        processes.append(start_gateway(config, env, extra=extra))
        urls[f"ours{'-cached' if cached else ''}"] = f"http://127.0.0.1:{port}"
    for cached in (False, True):
        port = free_port()
        env = {
            **os.environ,
            "MESH_RESPONSE_CACHE": str(PEER_CACHE_TTL_MS if cached else 0),
            "MESH_LOG_LEVEL": "error",
            "FORK": str(args.workers),  # like for like: Hive Gateway forks as many workers
        }
        processes.append(
            subprocess.Popen([str(PEER / "run.sh"), str(port), sandbox_url], cwd=PEER, env=env)
        )
        urls[f"peer{'-cached' if cached else ''}"] = f"http://127.0.0.1:{port}"
    return sandbox_url, urls, processes


async def wait_peer(
    session: aiohttp.ClientSession, url: str, process: subprocess.Popen[bytes]
) -> None:
    deadline = time.monotonic() + 120
    body = {"query": "{ __typename }"}
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"{url}: the peer exited with {process.returncode}")
        try:
            async with session.post(f"{url}/graphql", json=body) as response:
                if response.status == 200:
                    return
        except aiohttp.ClientError:
            pass
        await asyncio.sleep(0.25)
    raise RuntimeError(f"{url}: the peer did not start")


async def measure(
    args: argparse.Namespace,
    sandbox_url: str,
    urls: dict[str, str],
    processes: list[subprocess.Popen[bytes]],
) -> list[Row]:
    connector = aiohttp.TCPConnector(limit=args.concurrency * 2, keepalive_timeout=KEEPALIVE_S)
    async with aiohttp.ClientSession(connector=connector) as session:
        await wait_ready(session, f"{sandbox_url}/_sandbox/stats", processes[0])
        await wait_ready(session, f"{urls['ours']}/healthz", processes[1])
        await wait_ready(session, f"{urls['ours-cached']}/healthz", processes[2])
        await wait_peer(session, urls["peer"], processes[3])
        await wait_peer(session, urls["peer-cached"], processes[4])
        chosen = [p for p in pairs() if not args.scenario or p.name in args.scenario]
        pids = dict(zip(("ours", "ours-cached", "peer", "peer-cached"), processes[1:], strict=True))
        targets = {
            (p.name, system): (
                f"{urls[system + ('-cached' if p.cached else '')]}/graphql",
                p.ours if system == "ours" else p.peer,
                pids[system + ("-cached" if p.cached else "")].pid,
            )
            for p in chosen
            for system in ("ours", "peer")
        }

        async def load(url: str, bodies: list[bytes], duration_s: float) -> Round:
            """One closed-loop run by the chosen load generator; upstream calls counted around it."""
            before = await sandbox_calls(session, sandbox_url)
            if args.load == "wrk":
                latencies, answered, errors, elapsed = await drive_wrk(
                    url, bodies, args.concurrency, duration_s
                )
            else:
                started = time.perf_counter()
                latencies, errors = await drive_bodies(
                    session, url, bodies, args.concurrency, duration_s
                )
                answered, elapsed = len(latencies), time.perf_counter() - started
            calls = await sandbox_calls(session, sandbox_url) - before
            return Round(latencies, errors, elapsed, calls, answered)

        for url, bodies, _ in targets.values():
            await load(url, bodies, WARMUP_S)
        rounds: dict[tuple[str, str], list[Round]] = {key: [] for key in targets}
        cpu_s: dict[tuple[str, str], float] = dict.fromkeys(targets, 0.0)
        for repeat in range(args.repeat):
            for pair in chosen:
                order = ("ours", "peer") if repeat % 2 == 0 else ("peer", "ours")
                for system in order:
                    url, bodies, pid = targets[(pair.name, system)]
                    await load(url, bodies, ROUND_WARMUP_S)
                    before = tree_cpu_seconds(pid)
                    measured = await load(url, bodies, args.duration)
                    cpu_s[(pair.name, system)] += tree_cpu_seconds(pid) - before
                    rounds[(pair.name, system)].append(measured)
                    print(
                        f"  round {repeat + 1}/{args.repeat} {pair.name} / {system}: "
                        f"{measured.requests_per_s:.0f} req/s",
                        flush=True,
                    )
        return [
            summarize(name, system, r, cpu_s[(name, system)])
            for (name, system), r in rounds.items()
        ]


def summarize(scenario: str, system: str, rounds: list[Round], cpu_s: float) -> Row:
    latencies = [x for r in rounds for x in r.latencies]
    answered = sum(r.answered for r in rounds)
    rates = sorted(r.requests_per_s for r in rounds)
    return Row(
        scenario=scenario,
        system=system,
        requests_per_s=round(rates[len(rates) // 2], 1),
        requests_per_s_min=round(rates[0], 1),
        requests_per_s_max=round(rates[-1], 1),
        # Two decimals: a cached answer's p50 is a fifth of a millisecond at one client.
        p50_ms=round(percentile(latencies, 0.5), 2),
        p99_ms=round(percentile(latencies, 0.99), 2),
        upstream_calls_per_request=round(
            sum(r.upstream_calls for r in rounds) / max(1, answered), 2
        ),
        errors=sum(r.errors for r in rounds),
        cpu_ms_per_request=round(1000 * cpu_s / max(1, answered), 3),
    )


def _tail(row: Row) -> float:
    """p99 over p50: how far the slowest hundredth is from the typical request."""
    return row.p99_ms / row.p50_ms if row.p50_ms else float("inf")


def report(rows: list[Row], memory: dict[str, float]) -> None:
    print(
        "| scenario | ours req/s (range) | peer req/s (range) | ratio | ours p50/p99 ms | peer p50/p99 ms "
        "| p99/p50 ours/peer | upstream/req ours/peer | CPU ms/req ours/peer | errors ours/peer |"
    )
    print("|---|---|---|---|---|---|---|---|---|---|")
    by_key = {(r.scenario, r.system): r for r in rows}
    for scenario in dict.fromkeys(r.scenario for r in rows):
        ours, peer = by_key[(scenario, "ours")], by_key[(scenario, "peer")]
        ratio = ours.requests_per_s / peer.requests_per_s if peer.requests_per_s else float("inf")
        print(
            f"| {scenario} | {ours.requests_per_s} ({ours.requests_per_s_min}-{ours.requests_per_s_max}) "
            f"| {peer.requests_per_s} ({peer.requests_per_s_min}-{peer.requests_per_s_max}) | {ratio:.2f}x "
            f"| {ours.p50_ms} / {ours.p99_ms} | {peer.p50_ms} / {peer.p99_ms} "
            f"| {_tail(ours):.2f} / {_tail(peer):.2f} "
            f"| {ours.upstream_calls_per_request} / {peer.upstream_calls_per_request} "
            f"| {ours.cpu_ms_per_request} / {peer.cpu_ms_per_request} "
            f"| {ours.errors} / {peer.errors} |",
            flush=True,
        )
    print("peak memory (MiB): " + ", ".join(f"{k} {v:.0f}" for k, v in memory.items()))


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--concurrency", type=int, default=32)
    parser.add_argument("--duration", type=float, default=6.0, help="seconds per round")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--latency-ms", type=float, default=20.0)
    parser.add_argument("--upstream-client", default="httptools")
    parser.add_argument("--workers", type=int, default=1)
    parser.add_argument("--scenario", action="append")
    parser.add_argument("--output", type=Path)
    parser.add_argument(
        "--load",
        choices=("wrk", "python"),
        default="wrk" if shutil.which("wrk") else "python",
        help="load generator: wrk (default when installed; apt-get install wrk) or the Python loop",
    )
    args = parser.parse_args()
    if shutil.which("npm") is None:
        parser.error("the peer needs node and npm")
    print(
        f"machine: {platform.machine()}, {os.cpu_count()} CPUs; concurrency {args.concurrency}, "
        f"upstream latency {args.latency_ms} ms, {args.repeat} rounds of {args.duration} s, interleaved, "
        f"load generator {args.load}",
        flush=True,
    )
    sandbox_url, urls, processes = start_processes(args)
    try:
        rows = asyncio.run(measure(args, sandbox_url, urls, processes))
        names = ["sandbox", "ours", "ours-cached", "peer", "peer-cached"]
        memory = {name: rss_peak_mib(p.pid) for name, p in zip(names, processes, strict=True)}
    finally:
        stop_all(processes)
    report(rows, memory)
    output = args.output or RESULTS / f"{time.strftime('%Y-%m-%d')}-peer-c{args.concurrency}.json"
    output.parent.mkdir(parents=True, exist_ok=True)
    output.write_text(
        json.dumps(
            {
                "args": vars(args) | {"output": str(output)},
                "rows": [asdict(r) for r in rows],
                "peak_memory_mib": memory,
            },
            indent=2,
            default=str,
        )
        + "\n"
    )
    print(f"written: {output.relative_to(ROOT) if output.is_relative_to(ROOT) else output}")


if __name__ == "__main__":
    main()
