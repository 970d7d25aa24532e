"""Liveness and readiness, for a load balancer or an orchestrator.

``/healthz``: the process answers (restart it if not). ``/readyz``: send it traffic: the runtime
has started (and not yet closed), the shared state answers a ping (Redis: one round trip, so an
idle replica reports an outage, and its end, without waiting for a request to fail), and no
source's circuit breaker is open. Neither touches an upstream: a probe must stay cheap, and the
breaker already summarises the source's recent calls. A 503 is logged as a warning: a dependency
being away is what the probe is there to report, not a fault of the gateway.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from starlette.responses import JSONResponse
from starlette.routing import Route

if TYPE_CHECKING:
    from starlette.requests import Request

    from gateway.core.runtime import Runtime

__all__ = ["Probes", "not_ready"]

HEALTH_PATH = "/healthz"
READY_PATH = "/readyz"
NOT_READY_STATUS = 503


def not_ready(runtime: Runtime) -> dict[str, str]:
    """Source name → why it cannot serve now; ``*`` when the whole runtime is not up."""
    if not runtime.adapters or set(runtime.adapters) != set(runtime.sources):
        return {"*": "the runtime has not started, or is shutting down"}
    reasons: dict[str, str] = {}
    if not runtime.state.available:
        reasons["state"] = f"{runtime.state.name} unreachable: reads go on uncached, decisions wait"
    for name, adapter in list(runtime.adapters.items()):
        if adapter.http.circuit_state == "open":
            last = runtime.stats[name].last_error_code
            reasons[name] = "circuit breaker open" + (f" after {last}" if last else "")
    return reasons


class Probes:
    """The two probe routes for one runtime."""

    def __init__(self, runtime: Runtime) -> None:
        self.runtime = runtime

    async def healthz(self, request: Request) -> JSONResponse:
        return JSONResponse({"status": "ok"})

    async def readyz(self, request: Request) -> JSONResponse:
        await self.runtime.state.ping()
        reasons = not_ready(self.runtime)
        if not reasons:
            return JSONResponse({"status": "ready"})
        return JSONResponse(
            {"status": "not_ready", "sources": reasons}, status_code=NOT_READY_STATUS
        )

    def routes(self) -> list[Route]:
        return [
            Route(HEALTH_PATH, self.healthz, methods=["GET"]),
            Route(READY_PATH, self.readyz, methods=["GET"]),
        ]
