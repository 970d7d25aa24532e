"""What the LangGraph tests share: threads made on the real server, and the gateway's config
with a ``langgraph`` source beside the demo's four."""

from __future__ import annotations

import asyncio
from contextlib import asynccontextmanager
from typing import TYPE_CHECKING, Any

import httpx

from gateway.config import GatewayConfig, parse_config
from gateway.demo import demo_raw_config
from gateway.http.app import create_app
from tests.serving import serving

if TYPE_CHECKING:
    from collections.abc import AsyncIterator

__all__ = ["SOURCE", "gateway_config", "lg_gateway", "thread_runs", "wait_idle", "waiting_thread"]

SOURCE = "lg"


def gateway_config(
    sandbox_url: str, langgraph_url: str, env: dict[str, str] | None = None, **sections: Any
) -> GatewayConfig:
    """The demo's sources with its real LangGraph server (``lg``, as ``gateway demo`` adds it);
    ``source={...}`` adds keys to ``lg``.

    ``lg`` is not cached (``cache_ttl_s = 0``): the server moves a thread on after a decision by
    itself, and the tests read it right after."""
    raw, demo_env = demo_raw_config(sandbox_url, launched={"langgraph": langgraph_url})
    (source,) = (source for source in raw["sources"] if source["name"] == SOURCE)
    source.update({"poll_interval_s": 0.2, "cache_ttl_s": 0, **sections.pop("source", {})})
    for section, values in sections.items():
        raw.setdefault(section, {}).update(values)
    return parse_config(raw, {**demo_env, **(env or {})})


@asynccontextmanager
async def lg_gateway(config: GatewayConfig, port: int = 0) -> AsyncIterator[httpx.AsyncClient]:
    """The gateway served on 127.0.0.1 (on ``port`` when its config names its own URL)."""
    async with (
        serving(create_app(config), port=port) as url,
        httpx.AsyncClient(base_url=url, timeout=30) as client,
    ):
        yield client


async def waiting_thread(langgraph_url: str, topic: str = "owls") -> tuple[str, str]:
    """A thread of the ``review`` graph stopped at its interrupt: (thread id, interrupt id)."""
    async with httpx.AsyncClient(base_url=langgraph_url, timeout=30) as client:
        thread = (await client.post("/threads", json={})).raise_for_status().json()
        thread_id: str = thread["thread_id"]
        reply = await client.post(
            f"/threads/{thread_id}/runs/wait",
            json={"assistant_id": "review", "input": {"topic": topic}},
        )
        (interrupt,) = reply.raise_for_status().json()["__interrupt__"]
        return thread_id, interrupt["id"]


async def wait_idle(langgraph_url: str, thread_id: str) -> dict[str, Any]:
    """The thread once no run is on it (bounded: 30 s)."""
    async with httpx.AsyncClient(base_url=langgraph_url, timeout=30) as client:
        for _ in range(300):
            thread: dict[str, Any] = (await client.get(f"/threads/{thread_id}")).json()
            if thread["status"] != "busy":
                runs = await thread_runs(langgraph_url, thread_id)
                if all(run["status"] not in ("pending", "running") for run in runs):
                    return thread
            await asyncio.sleep(0.1)
    raise AssertionError(f"thread {thread_id} stayed busy")


async def thread_runs(langgraph_url: str, thread_id: str) -> list[dict[str, Any]]:
    async with httpx.AsyncClient(base_url=langgraph_url, timeout=30) as client:
        runs: list[dict[str, Any]] = (
            (await client.get(f"/threads/{thread_id}/runs", params={"limit": 100}))
            .raise_for_status()
            .json()
        )
        return runs
