"""The sandbox: simulated upstreams of every kind behind one Starlette app.

Each kind's routes are wrapped by ``_instrumented``, which counts the call under its endpoint
template, tracks calls in flight, and applies the injected faults. ``/_sandbox/*`` is the admin
API tests and the benchmark use: stats, reset, faults.
"""

from __future__ import annotations

import asyncio
import random
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from starlette.applications import Starlette
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from sandbox import nesting, rotavision, truthlocks, velt
from sandbox.state import Faults, Stats

if TYPE_CHECKING:
    from starlette.requests import Request

__all__ = ["SANDBOX_CREDENTIALS", "Sandbox", "SandboxConfig"]


SANDBOX_CREDENTIALS: dict[str, dict[str, str]] = {
    "rotavision": {"api_key": "rv_test_sandbox"},
    "nesting": {"api_key": "zaia_test_sandbox"},
    "truthlocks": {"api_key": "tl_test_sandbox", "tenant_id": "tenant_sandbox"},
    "velt": {"api_key": "ak_test_sandbox", "auth_token": "at_test_sandbox"},
}
"""The keys the sandbox accepts by default; the demo config hands the same to the gateway."""


@dataclass(slots=True)
class SandboxConfig:
    seed: int = 7
    executions_per_source: int = 240
    faults: Faults = field(default_factory=Faults)


class Sandbox:
    """Seeded stores for every kind plus their shared counters and faults."""

    def __init__(self, config: SandboxConfig | None = None) -> None:
        self.config = config or SandboxConfig()
        self.stats = Stats()
        self.faults = self.config.faults
        self._rng = random.Random(self.config.seed)
        count = self.config.executions_per_source
        self.rotavision = rotavision.RotavisionStore(
            seed=self.config.seed,
            count=count,
            api_keys=(SANDBOX_CREDENTIALS["rotavision"]["api_key"],),
        )
        self.nesting = nesting.NestingStore(
            seed=self.config.seed,
            count=count,
            api_keys=(SANDBOX_CREDENTIALS["nesting"]["api_key"],),
        )
        self.truthlocks = truthlocks.TruthlocksStore(
            seed=self.config.seed,
            count=count,
            api_keys=(SANDBOX_CREDENTIALS["truthlocks"]["api_key"],),
            tenant_ids=(SANDBOX_CREDENTIALS["truthlocks"]["tenant_id"],),
        )
        self.velt = velt.VeltStore(
            seed=self.config.seed,
            count=count,
            api_keys=(SANDBOX_CREDENTIALS["velt"]["api_key"],),
            auth_tokens=(SANDBOX_CREDENTIALS["velt"]["auth_token"],),
        )

    def app(self) -> Starlette:
        routes = [self._instrumented(r) for r in rotavision.routes(self.rotavision)]
        routes += [self._instrumented(r) for r in nesting.routes(self.nesting)]
        routes += [self._instrumented(r) for r in truthlocks.routes(self.truthlocks)]
        routes += [self._instrumented(r) for r in velt.routes(self.velt)]
        routes += [
            Route("/_sandbox/stats", self._stats, methods=["GET"]),
            Route("/_sandbox/reset", self._reset, methods=["POST"]),
            Route("/_sandbox/faults", self._faults, methods=["GET", "POST"]),
        ]
        return Starlette(routes=routes)

    def _instrumented(self, route: Route) -> Route:
        handler: Any = route.endpoint
        methods = sorted(route.methods or {"GET"} - {"HEAD"})
        template = f"{methods[0]} {route.path}"

        async def endpoint(request: Request) -> Response:
            self.stats.enter(template)
            try:
                if self.faults.latency_ms > 0:
                    await asyncio.sleep(self.faults.latency_ms / 1000)
                if self.faults.fail_rate > 0 and self._rng.random() < self.faults.fail_rate:
                    return JSONResponse(
                        {"error": {"code": "service_unavailable", "message": "injected fault"}},
                        status_code=503,
                    )
                response: Response = await handler(request)
                return response
            finally:
                self.stats.leave()

        return Route(route.path, endpoint, methods=list(route.methods or ()), name=route.name)

    async def _stats(self, request: Request) -> JSONResponse:
        return JSONResponse(self.stats.as_dict())

    async def _reset(self, request: Request) -> JSONResponse:
        self.stats.reset()
        return JSONResponse(self.stats.as_dict())

    async def _faults(self, request: Request) -> JSONResponse:
        if request.method == "POST":
            try:
                self.faults.update(await request.json())
            except (ValueError, TypeError) as exc:
                return JSONResponse({"error": str(exc)}, status_code=400)
        return JSONResponse(self.faults.as_dict())
