"""Instructions per request, counted by callgrind: builds compared to a fraction of a percent.

    .venv/bin/python bench/instructions.py TREE [TREE ...] [--scenario NAME] [--requests 100]
                                           [--warm 60] [--output FILE]

CPU time per request drifts by 10 to 30 % between runs on a shared machine, so a change worth
1 to 4 % cannot be seen by timing it. Instructions can: each TREE's gateway (a checkout whose
``.venv`` has valgrind's ``apt-get install valgrind`` beside it) serves the scenario's requests in
process, through its ASGI app, under ``valgrind --tool=callgrind``, from one sandbox process that
is not counted. Two runs per tree, ``warm`` + 40 and ``warm`` + 40 + ``requests`` requests,
differ by exactly ``requests`` requests: their totals' difference is what those requests cost,
start-up and warm-up cancelled out. Two runs of one build agree to about 0.3 %.

Instructions are not time (a cache miss costs many), so this measures the interpreter's work: the
Python calls, objects and branches a change adds or removes. Check a kept change with
``bench/builds.py`` or ``bench/peer.py`` too. About 4 minutes per tree on this machine (callgrind
runs Python some 30 times slower); trees run two at a time.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import re
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

BENCH = Path(__file__).resolve().parent
BASE_REQUESTS = 40
"""Measured requests in the shorter run: both runs then start measuring from the same state."""
CONCURRENCY = 8
COLLECTED = re.compile(rb"Collected : (\d+)")


def _serve(tree: Path, scenario: str, warm: int, requests: int) -> None:
    """The harness run under callgrind: ``tree``'s app, in process, answering ``warm`` then
    ``requests`` requests of ``scenario``, ``CONCURRENCY`` at a time."""
    # The tree's own modules first: bench/run.py, imported next, puts this checkout on the path.
    sys.path.insert(0, str(tree))
    import aiohttp
    import uvloop

    import gateway
    from gateway.config import parse_config
    from gateway.demo import demo_raw_config
    from gateway.http.app import create_app

    if not Path(gateway.__file__).resolve().is_relative_to(tree):
        raise RuntimeError(f"{gateway.__file__} is not {tree}'s gateway")
    sys.path.insert(1, str(BENCH))
    import peer
    from run import free_port, start_sandbox, stop_all, wait_ready

    bodies = next(p for p in peer.pairs() if p.name == scenario).ours

    async def main() -> None:
        port = free_port()
        sandbox = start_sandbox(port, 0)
        try:
            url = f"http://127.0.0.1:{port}"
            async with aiohttp.ClientSession() as session:
                await wait_ready(session, f"{url}/_sandbox/stats", sandbox)
            raw, env = demo_raw_config(url)
            raw.setdefault("limits", {})["max_aliases"] = 60
            raw["rate_limit"] = {"requests_per_s": 0}
            raw["logging"] = {"level": "warning"}
            raw["cache"] = {"active_ttl_s": 0.0, "terminal_ttl_s": 0.0}
            await _drive(create_app(parse_config(raw, env)), bodies, warm, requests)
        finally:
            stop_all([sandbox])

    uvloop.run(main())


async def _drive(app: Any, bodies: list[bytes], warm: int, requests: int) -> None:
    """Lifespan up, the requests through the ASGI interface, lifespan down."""
    inbox: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
    outbox: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
    await inbox.put({"type": "lifespan.startup"})
    lifespan = asyncio.create_task(
        app({"type": "lifespan", "asgi": {"version": "3.0"}, "state": {}}, inbox.get, outbox.put)
    )
    assert (await outbox.get())["type"] == "lifespan.startup.complete"

    async def one(body: bytes) -> None:
        sent: list[dict[str, Any]] = []
        messages = [{"type": "http.request", "body": body, "more_body": False}]

        async def receive() -> dict[str, Any]:
            if messages:
                return messages.pop()
            await asyncio.Event().wait()  # the client stays; the app does not wait on it
            raise AssertionError

        async def send(message: dict[str, Any]) -> None:
            sent.append(message)

        headers = [(b"host", b"127.0.0.1"), (b"content-type", b"application/json")]
        scope = {
            "type": "http",
            "asgi": {"version": "3.0"},
            "http_version": "1.1",
            "method": "POST",
            "scheme": "http",
            "path": "/graphql",
            "raw_path": b"/graphql",
            "query_string": b"",
            "root_path": "",
            "headers": [*headers, (b"content-length", str(len(body)).encode())],
            "client": ("127.0.0.1", 1),
            "server": ("127.0.0.1", 80),
            "state": {},
        }
        await app(scope, receive, send)
        assert sent[0]["status"] == 200, sent
        assert b'"errors"' not in sent[1]["body"], sent[1]["body"][:300]

    async def run(count: int, offset: int) -> None:
        queue = iter(range(offset, offset + count))

        async def worker() -> None:
            for index in queue:
                await one(bodies[index % len(bodies)])

        await asyncio.gather(*(worker() for _ in range(CONCURRENCY)))

    await run(warm, 0)
    await run(requests, warm)
    await inbox.put({"type": "lifespan.shutdown"})
    await outbox.get()
    await lifespan


def _count(tree: Path, scenario: str, warm: int, requests: int) -> int:
    """Instructions of one run under callgrind (start-up included)."""
    command = [
        "valgrind",
        "--tool=callgrind",
        "--callgrind-out-file=/dev/null",
        str(tree / ".venv" / "bin" / "python"),
        str(Path(__file__).resolve()),
        "--serve",
        str(tree),
        "--scenario",
        scenario,
        "--warm",
        str(warm),
        "--requests",
        str(requests),
    ]
    done = subprocess.run(
        command,
        cwd=tree,
        env={**os.environ, "PYTHONHASHSEED": "0"},
        capture_output=True,
        check=True,
    )
    found = COLLECTED.search(done.stderr)
    if found is None:
        raise RuntimeError(f"{tree}: no callgrind total\n{done.stderr.decode()[-2000:]}")
    return int(found.group(1))


def per_request(tree: Path, scenario: str, warm: int, requests: int) -> float:
    started = time.monotonic()
    with ThreadPoolExecutor(2) as pool:
        short = pool.submit(_count, tree, scenario, warm, BASE_REQUESTS)
        long = pool.submit(_count, tree, scenario, warm, BASE_REQUESTS + requests)
        instructions = (long.result() - short.result()) / requests
    print(
        f"  {tree}: {instructions / 1e6:.3f} M instructions per request "
        f"({time.monotonic() - started:.0f} s)",
        flush=True,
    )
    return instructions


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("trees", nargs="*", type=Path)
    parser.add_argument("--scenario", default="20 executions, aliased fields")
    parser.add_argument("--requests", type=int, default=100)
    parser.add_argument("--warm", type=int, default=60)
    parser.add_argument("--output", type=Path)
    parser.add_argument("--serve", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve is not None:
        _serve(args.serve, args.scenario, args.warm, args.requests)
        return
    trees = [tree.resolve() for tree in args.trees or [Path.cwd()]]
    print(f"{args.scenario}: {args.requests} requests after {args.warm} warm-up, per tree")
    counts = {
        str(tree): per_request(tree, args.scenario, args.warm, args.requests) for tree in trees
    }
    first = next(iter(counts.values()))
    for tree, count in counts.items():
        print(f"{tree}: {count / 1e6:.3f} M ({100 * (count / first - 1):+.1f} % against the first)")
    if args.output is not None:
        record = {"scenario": args.scenario, "requests": args.requests, "per_request": counts}
        args.output.write_text(json.dumps(record, indent=2) + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
