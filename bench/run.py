"""Benchmark: the sandbox and the gateway as separate processes, driven over HTTP.

    .venv/bin/python bench/run.py [--concurrency 32] [--duration 10] [--repeat 3] [--latency-ms 20]
                                  [--upstream-client httptools|aiohttp|httpx] [--scenario NAME ...] [--no-pin]

Prints, per scenario: requests/s (the median round, and the range over rounds), p50/p90/p99 latency
over every request, and upstream calls per GraphQL request as the sandbox counted them; writes the
same to bench/results/<date>-<client>-c<concurrency>.json. Fan-out scenarios run against a gateway
with its cache off, so every request pays its upstream calls; the cached scenario runs against one
with the default cache. The gateway has core 0 to itself unless --no-pin.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import aiohttp

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from adapters.transports import UPSTREAM_CLIENTS  # noqa: E402
from gateway.demo import demo_raw_config  # noqa: E402
from sandbox import Sandbox, nesting, truthlocks  # noqa: E402
from sandbox.ports import free_port  # noqa: E402

if TYPE_CHECKING:
    from collections.abc import Callable

GATEWAY = [sys.executable, "-m", "gateway"]
RESULTS = ROOT / "bench" / "results"
WARMUP_S = 2.0
KEEPALIVE_S = 2.0
"""The load generator drops idle connections before the gateway does (server.keep_alive_timeout_s,
5 s): otherwise a connection idle between scenarios is reused just as the server closes it."""
ROUND_WARMUP_S = 0.5
"""Before each round too: the previous round drove another scenario (and perhaps gateway)."""


@dataclass(frozen=True)
class Scenario:
    name: str
    query: str
    variables: list[dict[str, Any]]
    """One set per request, rotated: concurrent requests ask for different ids, so single flight
    cannot merge them and upstream calls per request measure the real fan-out."""
    cached: bool = False
    """Run against the caching gateway (after one priming request) instead of the uncached one."""


@dataclass
class Result:
    scenario: str
    requests: int
    errors: int
    requests_per_s: float
    """The median round's; with one round, that round's."""
    requests_per_s_min: float
    requests_per_s_max: float
    p50_ms: float
    p90_ms: float
    p99_ms: float
    upstream_calls_per_request: float


ROTATIONS = 240


def scenarios() -> list[Scenario]:
    seeded = Sandbox()
    pools = [
        [f"rv:{i}" for i in seeded.rotavision.executions],
        [f"velt:{i}" for i in seeded.velt.executions],
        [f"zaia:{i}" for i in seeded.nesting.executions],
        [f"tl:{i}" for i in seeded.truthlocks.orchestrations],
    ]

    def twenty(n: int) -> list[str]:
        return [pools[k % 4][(n * 5 + k // 4) % len(pools[k % 4])] for k in range(20)]

    nested = seeded.nesting.executions
    parents = {e["parentId"] for e in nested.values() if e.get("parentId")}
    grandparents = sorted(
        i
        for i, e in nested.items()
        if e.get("parentId") is None
        and any(c.get("parentId") == i and c["id"] in parents for c in nested.values())
    )
    fields = "id status startedAt steps { kind status }"
    aliased = " ".join(
        f"a{n}_{k}: execution(id: $i{n}) {{ {fields} }}" for n in range(20) for k in range(3)
    )
    aliased_vars = ", ".join(f"$i{n}: ID!" for n in range(20))
    return [
        Scenario(
            "one execution",
            f"query One($id: ID!) {{ execution(id: $id) {{ {fields} }} }}",
            [{"id": twenty(n)[0]} for n in range(ROTATIONS)],
        ),
        Scenario(
            "20 executions, four kinds",
            f"query Twenty($ids: [ID!]!) {{ executions(ids: $ids) {{ {fields} }} }}",
            [{"ids": twenty(n)} for n in range(ROTATIONS)],
        ),
        Scenario(
            "20 executions x3 aliases",
            f"query Aliased({aliased_vars}) {{ {aliased} }}",
            [{f"i{k}": i for k, i in enumerate(twenty(n))} for n in range(ROTATIONS)],
        ),
        Scenario(
            "finished execution, cached",
            f"query Cached($id: ID!) {{ execution(id: $id) {{ {fields} }} }}",
            [{"id": f"tl:{truthlocks.DEMO_COMPLETED_ID}"}],
            cached=True,
        ),
        Scenario(
            "nesting tree, 3 levels",
            "query Tree($id: ID!) { execution(id: $id) { id status children { id status steps { kind }"
            " children { id status steps { kind } } } } }",
            [{"id": f"zaia:{i}"} for i in [nesting.DEMO_TREE_ID, *grandparents]],
        ),
    ]


CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


def cpu_seconds(pid: int) -> float:
    """User plus system CPU time of a process so far."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / CLOCK_TICKS


def tree_cpu_seconds(pid: int) -> float:
    """``cpu_seconds`` of a process and every live descendant (a peer's workers, a shell's
    child): what serving costs, however the system splits it into processes."""
    children: dict[int, list[int]] = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            parent = int(stat.read_text().rsplit(")", 1)[1].split()[1])
        except (OSError, IndexError, ValueError):
            continue
        children.setdefault(parent, []).append(int(stat.parent.name))
    total, pending = 0.0, [pid]
    while pending:
        current = pending.pop()
        try:
            total += cpu_seconds(current)
        except OSError:  # it ended meanwhile
            continue
        pending += children.get(current, [])
    return total


def toml_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return repr(value)
    return json.dumps(value)


def write_config(
    path: Path, sandbox_url: str, port: int, *, cached: bool, client: str
) -> dict[str, str]:
    raw, env = demo_raw_config(sandbox_url, port=port)
    lines = ["[server]", 'host = "127.0.0.1"', f"port = {port}", f'upstream_client = "{client}"']
    lines += ["", "[limits]", "max_aliases = 60"]  # the x3 aliases scenario
    lines += ["", "[auth]", 'mode = "none"', "", "[logging]", 'level = "warning"']
    # One client drives thousands of requests a second: the default rate limit would refuse them.
    lines += ["", "[rate_limit]", "requests_per_s = 0"]
    if not cached:
        lines += ["", "[cache]", "terminal_ttl_s = 0", "active_ttl_s = 0"]
    for source in raw["sources"]:
        lines += ["", "[[sources]]"] + [f"{k} = {toml_value(v)}" for k, v in source.items()]
        lines.append("max_concurrency = 64")
    path.write_text("\n".join(lines) + "\n")
    return env


async def wait_ready(
    session: aiohttp.ClientSession, url: str, process: subprocess.Popen[bytes]
) -> None:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"{url}: process exited with {process.returncode}")
        try:
            async with session.get(url) as response:
                if response.status == 200:
                    return
        except aiohttp.ClientError:
            pass
        await asyncio.sleep(0.1)
    raise RuntimeError(f"{url} did not become ready")


async def sandbox_calls(session: aiohttp.ClientSession, sandbox_url: str) -> int:
    async with session.get(f"{sandbox_url}/_sandbox/stats") as response:
        total: int = (await response.json())["total"]
        return total


async def drive(
    session: aiohttp.ClientSession,
    url: str,
    scenario: Scenario,
    concurrency: int,
    duration_s: float,
) -> tuple[list[float], int]:
    bodies = [
        json.dumps({"query": scenario.query, "variables": v}).encode() for v in scenario.variables
    ]
    return await drive_bodies(session, url, bodies, concurrency, duration_s)


async def drive_bodies(
    session: aiohttp.ClientSession,
    url: str,
    bodies: list[bytes],
    concurrency: int,
    duration_s: float,
) -> tuple[list[float], int]:
    """A closed loop: ``concurrency`` clients, one request in flight each, bodies taken in turn."""
    headers = {"content-type": "application/json"}
    latencies: list[float] = []
    errors = 0
    stop = time.monotonic() + duration_s
    sent = 0

    async def worker() -> None:
        nonlocal errors, sent
        while time.monotonic() < stop:
            body = bodies[sent % len(bodies)]
            sent += 1
            started = time.perf_counter()
            async with session.post(url, data=body, headers=headers) as response:
                payload = await response.read()
            latencies.append(time.perf_counter() - started)
            if response.status != 200 or b'"errors"' in payload:
                errors += 1

    await asyncio.gather(*(worker() for _ in range(concurrency)))
    return latencies, errors


async def drive_wrk(
    url: str, bodies: list[bytes], concurrency: int, duration_s: float
) -> tuple[list[float], int, int, float]:
    """The same closed loop run by ``wrk`` (C, one thread).

    Returns latency quantiles (s), requests answered, errors, and the run's own duration (s).

    The Python loop above costs the shared machine about as much CPU per request as the sandbox
    does; wrk costs a few microseconds, so at ~1,000 req/s and more the load generator stops
    competing with the systems measured. wrk gives no per-request times: the latencies are its
    999 quantiles (0.1 % to 99.9 %), which is what the percentiles here are read from.
    """
    with tempfile.NamedTemporaryFile("wb", suffix=".jsonl") as lines:
        lines.write(b"\n".join(bodies) + b"\n")
        lines.flush()
        process = await asyncio.create_subprocess_exec(
            "wrk",
            "-t1",
            f"-c{concurrency}",
            f"-d{max(1, round(duration_s))}s",
            "--timeout",
            "10s",
            "-s",
            str(ROOT / "bench" / "wrk.lua"),
            url,
            env={**os.environ, "WRK_BODIES": lines.name},
            stdout=asyncio.subprocess.PIPE,
        )
        output, _ = await process.communicate()
    summary = json.loads(output.decode().strip().splitlines()[-1])
    quantiles = [us / 1e6 for us in summary["quantiles_us"]]
    elapsed_s = summary["duration_us"] / 1e6
    return quantiles, int(summary["requests"]), int(summary["errors"]), elapsed_s


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(share * len(ordered)))] * 1000


def cpu_sets(pin: bool) -> tuple[set[int] | None, set[int] | None]:
    """CPUs for the gateway, and for the sandbox and load generator, or (None, None) unpinned.

    Pinned, the gateway has core 0 to itself, as a worker has its core in production, and the
    simulated upstreams and clients share the rest. Unpinned on two cores, each loopback write
    the gateway makes can wake the sandbox on the gateway's own core and pre-empt it: measured,
    that more than doubled the wall time of a 20-call fan-out's sends.
    """
    cpus = sorted(os.sched_getaffinity(0))
    if not pin or len(cpus) < 2:
        return None, None
    return {cpus[0]}, set(cpus[1:])


def pinned(cpus: set[int] | None) -> Callable[[], None] | None:
    """A ``preexec_fn`` that confines the child process to ``cpus``."""
    if cpus is None:
        return None
    return lambda: os.sched_setaffinity(0, cpus)


def start_sandbox(
    port: int, latency_ms: float, cpus: set[int] | None = None
) -> subprocess.Popen[bytes]:
    """``gateway sandbox`` as its own process (optionally confined to ``cpus``)."""
    command = [*GATEWAY, "sandbox", "--port", str(port), "--latency-ms", str(latency_ms)]
    return subprocess.Popen(command, cwd=ROOT, preexec_fn=pinned(cpus))


def start_gateway(
    config: Path,
    env: dict[str, str],
    cpus: set[int] | None = None,
    extra: list[str] | None = None,
) -> subprocess.Popen[bytes]:
    """``gateway serve --config`` as its own process, with ``env`` over this one's."""
    command = [*GATEWAY, "serve", "--config", str(config), *(extra or [])]
    return subprocess.Popen(command, cwd=ROOT, env={**os.environ, **env}, preexec_fn=pinned(cpus))


def stop_all(processes: list[subprocess.Popen[bytes]]) -> None:
    """SIGINT each (a graceful shutdown), then kill what has not ended within 10 s."""
    for process in processes:
        process.send_signal(signal.SIGINT)
    for process in processes:
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()


def run(args: argparse.Namespace) -> list[Result]:
    """Start the sandbox and two gateways (uncached, cached) as processes, measure, stop them."""
    gateway_cpus, other_cpus = cpu_sets(args.pin)
    if other_cpus is not None:
        os.sched_setaffinity(0, other_cpus)
    sandbox_port, plain_port, cached_port = free_port(), free_port(), free_port()
    sandbox_url = f"http://127.0.0.1:{sandbox_port}"
    tmp = Path(tempfile.mkdtemp(prefix="gateway-bench-"))
    processes = [start_sandbox(sandbox_port, args.latency_ms, other_cpus)]
    gateways: dict[bool, str] = {}
    try:
        for cached, port in ((False, plain_port), (True, cached_port)):
            config = tmp / f"gateway-{'cached' if cached else 'plain'}.toml"
            env = write_config(
                config, sandbox_url, port, cached=cached, client=args.upstream_client
            )
            processes.append(start_gateway(config, env, gateway_cpus))
            gateways[cached] = f"http://127.0.0.1:{port}"
        return asyncio.run(measure(args, sandbox_url, gateways, processes))
    finally:
        stop_all(processes)


async def measure(
    args: argparse.Namespace,
    sandbox_url: str,
    gateways: dict[bool, str],
    processes: list[subprocess.Popen[bytes]],
) -> list[Result]:
    """Warm each scenario up, then measure them round-robin ``args.repeat`` times.

    Rounds alternate between scenarios so that a slow spell of a shared machine spreads over
    all of them rather than landing on one; each scenario's rounds are pooled.
    """
    connector = aiohttp.TCPConnector(limit=args.concurrency, keepalive_timeout=KEEPALIVE_S)
    async with aiohttp.ClientSession(connector=connector) as session:
        await wait_ready(session, f"{sandbox_url}/_sandbox/stats", processes[0])
        for base, process in zip(gateways.values(), processes[1:], strict=True):
            await wait_ready(session, f"{base}/healthz", process)
        chosen = [s for s in scenarios() if not args.scenario or s.name in args.scenario]
        rounds: dict[str, list[Round]] = {s.name: [] for s in chosen}
        for scenario in chosen:
            await drive(
                session,
                f"{gateways[scenario.cached]}/graphql",
                scenario,
                args.concurrency,
                WARMUP_S,
            )
        for _ in range(args.repeat):
            for scenario in chosen:
                url = f"{gateways[scenario.cached]}/graphql"
                await drive(session, url, scenario, args.concurrency, ROUND_WARMUP_S)
                before = await sandbox_calls(session, sandbox_url)
                started = time.perf_counter()
                latencies, errors = await drive(
                    session, url, scenario, args.concurrency, args.duration
                )
                elapsed = time.perf_counter() - started
                calls = await sandbox_calls(session, sandbox_url) - before
                rounds[scenario.name].append(Round(latencies, errors, elapsed, calls))
        results = [pooled(name, scenario_rounds) for name, scenario_rounds in rounds.items()]
        for result in results:
            print_row(result)
        return results


@dataclass
class Round:
    latencies: list[float]
    """Every request's latency (s), or evenly spaced quantiles of them (wrk)."""
    errors: int
    elapsed_s: float
    upstream_calls: int
    requests: int = -1
    """How many requests were answered; -1: one per latency."""

    @property
    def answered(self) -> int:
        return len(self.latencies) if self.requests < 0 else self.requests

    @property
    def requests_per_s(self) -> float:
        return self.answered / self.elapsed_s


def pooled(scenario: str, rounds: list[Round]) -> Result:
    """One scenario's rounds: the median round's rate, percentiles over every request."""
    latencies = [latency for r in rounds for latency in r.latencies]
    rates = sorted(r.requests_per_s for r in rounds)
    return Result(
        scenario=scenario,
        requests=len(latencies),
        errors=sum(r.errors for r in rounds),
        requests_per_s=round(statistics.median(rates), 1),
        requests_per_s_min=round(rates[0], 1),
        requests_per_s_max=round(rates[-1], 1),
        p50_ms=round(percentile(latencies, 0.50), 1),
        p90_ms=round(percentile(latencies, 0.90), 1),
        p99_ms=round(percentile(latencies, 0.99), 1),
        upstream_calls_per_request=round(
            sum(r.upstream_calls for r in rounds) / max(1, len(latencies)), 2
        ),
    )


def print_row(result: Result) -> None:
    spread = f"{result.requests_per_s_min}-{result.requests_per_s_max}"
    print(
        f"| {result.scenario:<28} | {result.requests_per_s:>8} | {spread:>13} | {result.p50_ms:>7} "
        f"| {result.p90_ms:>7} | {result.p99_ms:>7} | {result.upstream_calls_per_request:>14} "
        f"| {result.errors:>6} |",
        flush=True,
    )


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--concurrency", type=int, default=32)
    parser.add_argument("--duration", type=float, default=10.0, help="seconds per round")
    parser.add_argument(
        "--repeat",
        type=int,
        default=3,
        help="measured rounds per scenario, taken round-robin (default 3)",
    )
    parser.add_argument(
        "--latency-ms", type=float, default=20.0, help="sandbox latency per upstream call"
    )
    parser.add_argument("--upstream-client", choices=UPSTREAM_CLIENTS, default="httptools")
    parser.add_argument("--scenario", action="append", help="run only this scenario (repeatable)")
    parser.add_argument(
        "--no-pin",
        dest="pin",
        action="store_false",
        help="let processes float across CPUs (default: the gateway alone on core 0)",
    )
    parser.add_argument(
        "--output", type=Path, help="JSON results file (default: bench/results/...)"
    )
    args = parser.parse_args()
    if args.repeat < 1:
        parser.error("--repeat must be at least 1")
    print(
        f"machine: {platform.machine()}, {os.cpu_count()} CPUs, Python {platform.python_version()}; "
        f"concurrency {args.concurrency}, upstream latency {args.latency_ms} ms, client {args.upstream_client}"
    )
    print(
        "| scenario                     |    req/s | req/s range   | p50 ms  | p90 ms  | p99 ms  "
        "| upstream/req   | errors |"
    )
    print("|---|---|---|---|---|---|---|---|")
    results = run(args)
    RESULTS.mkdir(parents=True, exist_ok=True)
    output = args.output or RESULTS / (
        f"{time.strftime('%Y-%m-%d')}-{args.upstream_client}-c{args.concurrency}.json"
    )
    output.write_text(
        json.dumps(
            {
                "machine": {
                    "cpus": os.cpu_count(),
                    "arch": platform.machine(),
                    "python": platform.python_version(),
                },
                "settings": {
                    "concurrency": args.concurrency,
                    "duration_s": args.duration,
                    "rounds": args.repeat,
                    "latency_ms": args.latency_ms,
                    "upstream_client": args.upstream_client,
                    "gateway_pinned_to_own_core": args.pin,
                },
                "results": [asdict(r) for r in results],
            },
            indent=2,
        )
        + "\n"
    )
    print(f"results: {output}")
    if statistics.fmean([r.errors for r in results] or [0]) > 0:
        print("warning: some requests answered with errors", file=sys.stderr)


if __name__ == "__main__":
    main()
