"""The sandbox: simulated upstreams of every kind behind one Starlette app.

Each kind's routes are wrapped by ``_instrumented``, which counts the call under its endpoint
template, tracks calls in flight, and applies the injected faults (``sandbox.state.Faults``: latency,
a share of failures, and the fault modes ``docs/resilience.md`` lists). ``/_sandbox/*`` is the admin
API tests and the benchmark use: stats, reset, faults.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import math
import random
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from starlette.applications import Starlette
from starlette.responses import Response, StreamingResponse
from starlette.routing import Route

from sandbox import nesting, rotavision, truthlocks, velt
from sandbox.registry import SANDBOX_CREDENTIALS
from sandbox.responses import JSONResponse
from sandbox.state import Faults, Stats

if TYPE_CHECKING:
    from collections.abc import AsyncIterator

    from starlette.requests import Request
    from starlette.types import Receive, Scope, Send

__all__ = ["HANG_MAX_S", "SANDBOX_CREDENTIALS", "Sandbox", "SandboxConfig", "summary"]


@dataclass(slots=True)
class SandboxConfig:
    """Seed, size and faults, plus which documented variant each kind plays where the vendors'
    documents leave a choice open (``docs/upstreams.md`` lists them)."""

    seed: int = 7
    executions_per_source: int = 240
    faults: Faults = field(default_factory=Faults)
    nesting_list_order: nesting.ListOrder = "desc"
    nesting_nestings_shape: nesting.NestingsShape = "array"
    velt_waiting_output: velt.WaitingOutput = "reviewers"
    velt_resume_after_reads: int = 0
    truthlocks_variants: truthlocks.Variants = "both"


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
            nestings_shape=self.config.nesting_nestings_shape,
            list_order=self.config.nesting_list_order,
        )
        self.truthlocks = truthlocks.TruthlocksStore(
            seed=self.config.seed,
            count=count,
            api_keys=(SANDBOX_CREDENTIALS["truthlocks"]["api_key"],),
            tenant_ids=(SANDBOX_CREDENTIALS["truthlocks"]["tenant_id"],),
            variants=self.config.truthlocks_variants,
        )
        self.velt = velt.VeltStore(
            seed=self.config.seed,
            count=count,
            api_keys=(SANDBOX_CREDENTIALS["velt"]["api_key"],),
            auth_tokens=(SANDBOX_CREDENTIALS["velt"]["auth_token"],),
            waiting_output=self.config.velt_waiting_output,
            resume_after_reads=self.config.velt_resume_after_reads,
        )

    def app(self) -> Starlette:
        routes = [self._instrumented(r, "rotavision") for r in rotavision.routes(self.rotavision)]
        routes += [self._instrumented(r, "nesting") for r in nesting.routes(self.nesting)]
        routes += [self._instrumented(r, "truthlocks") for r in truthlocks.routes(self.truthlocks)]
        routes += [self._instrumented(r, "velt") for r in velt.routes(self.velt)]
        routes += [
            Route("/_sandbox/stats", self._stats, methods=["GET"]),
            Route("/_sandbox/reset", self._reset, methods=["POST"]),
            Route("/_sandbox/faults", self._faults, methods=["GET", "POST"]),
        ]
        return Starlette(routes=routes)

    def _instrumented(self, route: Route, kind: str) -> Route:
        handler: Any = route.endpoint
        methods = sorted(route.methods or {"GET"} - {"HEAD"})
        template = f"{methods[0]} {route.path}"

        async def endpoint(request: Request) -> Response:
            self.stats.enter(template)
            try:
                faults = self.faults
                if faults.applies_to(template):
                    if faults.latency_ms > 0:
                        await asyncio.sleep(faults.latency_ms / 1000)
                    mode = self._drawn_fault()
                    if mode is not None:
                        return await _faulty_reply(mode, kind, faults, request)
                response: Response = await handler(request)
                return response
            finally:
                self.stats.leave()

        return Route(route.path, endpoint, methods=list(route.methods or ()), name=route.name)

    def _drawn_fault(self) -> str | None:
        """The fault this call gets: ``mode`` on every call, or on a ``fail_rate`` share of them."""
        mode = self.faults.mode
        if self.faults.fail_rate > 0:
            if self._rng.random() >= self.faults.fail_rate:
                return None
            return mode if mode != "none" else "unavailable"
        return mode if mode != "none" else None

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


_KINDS: tuple[tuple[str, str, tuple[str, ...]], ...] = (
    ("rotavision", "/v1/orchestrate", ("authorization: Bearer {api_key}",)),
    ("velt", "/v2/workflow", ("x-velt-api-key: {api_key}", "x-velt-auth-token: {auth_token}")),
    ("nesting", "/api/v1/executions", ("authorization: {api_key}",)),
    ("truthlocks", "/v1/orchestrations", ("X-API-Key: {api_key}", "X-Tenant-ID: {tenant_id}")),
)


def summary(url: str, config: SandboxConfig | None = None) -> str:
    """What ``gateway sandbox`` should print: where the sandbox listens and, per kind, its base
    path, the headers it accepts (with the sandbox's credentials) and the documented variant it
    plays, so a user can point any client at it without reading the code."""
    config = config or SandboxConfig()
    variants = {
        "rotavision": "",
        "velt": (
            f"waiting output {config.velt_waiting_output}, "
            f"resume after {config.velt_resume_after_reads} reads"
        ),
        "nesting": (
            f"list order {config.nesting_list_order}, nestings {config.nesting_nestings_shape}"
        ),
        "truthlocks": f"schemas {config.truthlocks_variants}",
    }
    base = url.rstrip("/")
    lines = [f"sandbox upstreams listening on {base}", f"  seed {config.seed}"]
    for kind, path, headers in _KINDS:
        credentials = SANDBOX_CREDENTIALS[kind]
        lines.append(f"  {kind:<11} {base}{path}")
        lines += [f"      {header.format(**credentials)}" for header in headers]
        if variants[kind]:
            lines.append(f"      plays: {variants[kind]}")
    lines.append(f"  admin       {base}/_sandbox/stats, /_sandbox/faults, /_sandbox/reset")
    return "\n".join(lines)


HANG_MAX_S = 300.0
"""A ``hang`` ends when the client gives up, or after this long so the server can still stop."""
_SLOW_BODY_CHUNK_S = 0.1


def _error_body(kind: str, status: int, retry_after_s: float) -> dict[str, Any]:
    """A 429 or 503 in the kind's own error envelope, as its adapter reads it."""
    limited = status == 429
    if kind == "rotavision":
        code, type_ = (
            ("rate_limit_exceeded", "rate_limit_error")
            if limited
            else ("service_unavailable", "api_error")
        )
        return {"error": {"code": code, "message": "injected fault", "type": type_}}
    if kind == "velt":
        word = "RESOURCE_EXHAUSTED" if limited else "UNAVAILABLE"
        return {"error": {"message": "injected fault", "status": word}}
    if kind == "nesting":
        code, name = (
            ("rate_limit_exceeded", "TooManyRequestsError")
            if limited
            else ("service_unavailable", "ServiceUnavailableError")
        )
        return {"code": code, "message": "injected fault", "name": name}
    details = {"retry_after_seconds": retry_after_s} if limited else {}
    code = "RATE_LIMITED" if limited else "SERVICE_UNAVAILABLE"
    return {
        "code": code,
        "message": "injected fault",
        "details": details,
        "trace_id": "trace_sandbox",
    }


class _DroppedConnection(Response):
    """Starts a 200, sends part of its body, then ends: the server closes the connection.

    uvicorn logs "ASGI callable returned without completing response" and drops the socket;
    clients see it as a transport error (httpx ``RemoteProtocolError``/``ReadError``).
    """

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        headers = [(b"content-type", b"application/json"), (b"content-length", b"1000")]
        await send({"type": "http.response.start", "status": 200, "headers": headers})
        await send({"type": "http.response.body", "body": b'{"result": ', "more_body": True})


async def _until_disconnected(request: Request) -> None:
    with contextlib.suppress(TimeoutError):
        async with asyncio.timeout(HANG_MAX_S):
            while (await request.receive())["type"] != "http.disconnect":
                pass


async def _faulty_reply(mode: str, kind: str, faults: Faults, request: Request) -> Response:
    if mode == "hang":
        await _until_disconnected(request)
        return Response(status_code=504)  # nobody is left to read it
    if mode == "reset":
        return _DroppedConnection()
    if mode == "malformed_json":
        return Response(b'{"result": ', media_type="application/json")
    if mode == "wrong_shape":
        return JSONResponse({"unexpected": True})
    if mode == "rate_limit":
        retry_after = str(math.ceil(max(0.0, faults.retry_after_s)))
        body = _error_body(kind, 429, faults.retry_after_s)
        return JSONResponse(body, status_code=429, headers={"retry-after": retry_after})
    if mode == "slow_body":
        return StreamingResponse(_slow_body(faults.slow_body_s), media_type="application/json")
    return JSONResponse(_error_body(kind, 503, faults.retry_after_s), status_code=503)


async def _slow_body(seconds: float) -> AsyncIterator[bytes]:
    """A valid but useless JSON body, one chunk per 100 ms for ``seconds``."""
    chunks = max(1, int(seconds / _SLOW_BODY_CHUNK_S))
    yield b'{"padding": ['
    for index in range(chunks):
        await asyncio.sleep(_SLOW_BODY_CHUNK_S)
        yield (b", " if index else b"") + json.dumps(index).encode()
    yield b"]}"
