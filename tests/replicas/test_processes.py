"""Two real ``gateway serve`` processes sharing one real Redis: one cache and one decision."""

from __future__ import annotations

import asyncio
import os
from contextlib import contextmanager
from typing import TYPE_CHECKING

import httpx
import pytest

from gateway.demo import demo_raw_config
from sandbox import rotavision, truthlocks
from tests.e2e.test_approvals import APPROVE_POST, decide, pending_approval_id
from tests.processes import free_port, gateway_process, sources_toml
from tests.serving import graphql

if TYPE_CHECKING:
    from collections.abc import Iterator
    from pathlib import Path

    from sandbox import Sandbox
    from tests.redis_server import RedisServer

pytestmark = pytest.mark.e2e

STARTUP_LIMIT_S = 30.0
FINISHED = f"tl:{truthlocks.DEMO_COMPLETED_ID}"


@contextmanager
def replica_process(folder: Path, name: str, sandbox_url: str, redis_url: str) -> Iterator[str]:
    """``gateway serve`` on a free port with the demo's sources, state in Redis."""
    port = free_port()
    raw, env = demo_raw_config(sandbox_url, port=port)
    lines = [
        "[server]",
        'host = "127.0.0.1"',
        f"port = {port}",
        'cursor_secret_env = "CURSOR_SECRET"',
        "",
        "[auth]",
        'mode = "none"',
        'anonymous_reviewer_id = "ops@example.com"',  # a declared reviewer of the sandbox's runs
        "",
        "[cache]",
        "answers_max_entries = 0",
        "",
        "[state]",
        'backend = "redis"',
        'redis_url_env = "REDIS_URL"',
    ]
    lines += sources_toml(raw["sources"])
    config = folder / f"{name}.toml"
    config.write_text("\n".join(lines) + "\n", encoding="utf-8")
    process_env = {**os.environ, **env, "REDIS_URL": redis_url, "CURSOR_SECRET": "p" * 40}
    with gateway_process(config, port, process_env, folder / f"{name}.log"):
        yield f"http://127.0.0.1:{port}"


async def test_two_processes_share_one_cache_and_send_a_decision_once(
    sandbox_url: str, sandbox: Sandbox, redis_server: RedisServer, tmp_path: Path
) -> None:
    with (
        replica_process(tmp_path, "a", sandbox_url, redis_server.url) as url_a,
        replica_process(tmp_path, "b", sandbox_url, redis_server.url) as url_b,
    ):
        async with (
            httpx.AsyncClient(base_url=url_a, timeout=30) as a,
            httpx.AsyncClient(base_url=url_b, timeout=30) as b,
        ):
            query = "query One($id: ID!) { execution(id: $id) { id status } }"
            first = await graphql(a, query, {"id": FINISHED})
            assert first["data"]["execution"]["status"] == "COMPLETED"
            calls = sandbox.stats.total
            assert await graphql(b, query, {"id": FINISHED}) == first
            assert sandbox.stats.total == calls  # B read A's copy from Redis

            approval_id = await pending_approval_id(a, f"rv:{rotavision.DEMO_WAITING_ID}")
            sandbox.faults.update({"latency_ms": 50})
            results = await asyncio.gather(
                *(decide(a if n % 2 else b, "approve", approval_id, "ok") for n in range(20))
            )
            assert "DecisionSuccess" in {r["__typename"] for r in results}
            assert sandbox.stats.calls[APPROVE_POST] == 1
