"""A fifth vendor is its own room: built here, in a copy of ``adapters/`` and ``sandbox/``, and
served by the unchanged ``gateway/`` from a config that names it.

The kind, "acme", touches exactly what docs/adding-a-source.md lists: its adapter module, its
sandbox twin, one line in each registry and its ``SourceKind`` member. The gateway process runs
from the copy (first on its import path) and must then serve the kind's executions, validate its
secret and typed option, and refuse what the kind does not declare, with no file of ``gateway/``
edited.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import textwrap
import time
from pathlib import Path
from typing import TYPE_CHECKING

import httpx
import pytest

from tests.processes import free_port, gateway_process, sources_toml

if TYPE_CHECKING:
    from collections.abc import Iterator

ROOT = Path(__file__).resolve().parents[2]

ACME_ADAPTER = '''
"""Acme runs: ``GET /runs/{id}`` and ``GET /runs?after=&limit=``, a token header."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

from adapters.base import Capability, Credentials, ExecutionPage, SourceAdapter
from adapters.declarations import Secret
from adapters.model import Execution, ExecutionStatus, SourceKind, Workflow

STATUSES = {"running": ExecutionStatus.RUNNING, "done": ExecutionStatus.COMPLETED}


@dataclass(frozen=True, slots=True)
class AcmeOptions:
    region: Literal["eu", "us"] = "eu"


def parse_run(payload: Any) -> Execution:
    return Execution(
        native_id=payload["id"],
        status=STATUSES.get(payload["state"], ExecutionStatus.UNKNOWN),
        upstream_status=payload["state"],
        raw=payload,
        workflow=Workflow(payload.get("flow")),
    )


class AcmeAdapter(SourceAdapter):
    kind = SourceKind.ACME
    capabilities = frozenset({Capability.GET, Capability.LIST})
    secrets = (Secret("token"),)
    options_type = AcmeOptions

    @staticmethod
    def auth_headers(credentials: Credentials) -> dict[str, str]:
        return {"x-acme-token": credentials.get("token", "")}

    async def get_execution(self, native_id: str) -> Execution:
        payload = await self.http.request_json("GET", "/runs/{}", native_id, native_id=native_id)
        return self.parsed(parse_run, payload, native_id)

    async def list_executions(
        self, *, cursor: str | None, page_size: int, status: ExecutionStatus | None = None
    ) -> ExecutionPage:
        params = {"after": cursor, "limit": page_size, "region": self.options.region}
        payload = await self.http.request_json("GET", "/runs", params=params)
        items = tuple(self.parsed(parse_run, run, None) for run in payload["runs"])
        return ExecutionPage(items=items, next_cursor=payload.get("next"))
'''

ACME_TWIN = '''
"""The acme twin: two runs behind a token."""

from __future__ import annotations

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from sandbox.twins import Twin

TWIN = Twin(
    kind="acme",
    demo_name="acme",
    credentials={"token": "acme_test_sandbox"},
    headers=(("x-acme-token", "{token}"),),
    probe="GET  /runs",
)
RUNS = [
    {"id": "run_2", "state": "running", "flow": "billing"},
    {"id": "run_1", "state": "done", "flow": "billing"},
]


def _authorized(request: Request) -> bool:
    return request.headers.get("x-acme-token") == TWIN.credentials["token"]


async def _run(request: Request) -> JSONResponse:
    if not _authorized(request):
        return JSONResponse({"error": "unauthorized"}, status_code=401)
    run = next((r for r in RUNS if r["id"] == request.path_params["run_id"]), None)
    return JSONResponse(run) if run else JSONResponse({"error": "not found"}, status_code=404)


async def _runs(request: Request) -> JSONResponse:
    if not _authorized(request) or request.query_params.get("region") != "us":
        return JSONResponse({"error": "unauthorized"}, status_code=401)
    return JSONResponse({"runs": RUNS, "next": None})


app = Starlette(routes=[Route("/runs/{run_id}", _run), Route("/runs", _runs)])
'''


def _add_line(path: Path, after: str, line: str) -> None:
    text = path.read_text(encoding="utf-8")
    assert after in text, f"{path.name} no longer has {after!r}: update docs/adding-a-source.md"
    path.write_text(text.replace(after, f"{after}{line}", 1), encoding="utf-8")


@pytest.fixture(scope="module")
def house(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A copy of adapters/ and sandbox/ with the acme kind added the documented way."""
    copy = tmp_path_factory.mktemp("house")
    for package in ("adapters", "sandbox"):
        shutil.copytree(
            ROOT / package, copy / package, ignore=shutil.ignore_patterns("__pycache__")
        )
    (copy / "adapters" / "acme.py").write_text(textwrap.dedent(ACME_ADAPTER), encoding="utf-8")
    (copy / "sandbox" / "acme.py").write_text(textwrap.dedent(ACME_TWIN), encoding="utf-8")
    _add_line(
        copy / "adapters" / "model.py", '    LANGGRAPH = "langgraph"\n', '    ACME = "acme"\n'
    )
    _add_line(
        copy / "adapters" / "registry.py",
        "    SourceKind.LANGGRAPH: LangGraphAdapter,\n",
        "    SourceKind.ACME: __import__('adapters.acme').acme.AcmeAdapter,\n",
    )
    _add_line(
        copy / "sandbox" / "registry.py",
        "TWINS = (rotavision.TWIN, nesting.TWIN, truthlocks.TWIN, velt.TWIN",
        ", __import__('sandbox.acme').acme.TWIN",
    )
    return copy


@pytest.fixture(scope="module")
def twin_url(house: Path) -> Iterator[str]:
    port = free_port()
    process = subprocess.Popen(  # noqa: S603 (our own command line)
        [
            sys.executable,
            "-m",
            "uvicorn",
            "sandbox.acme:app",
            "--port",
            str(port),
            "--log-level",
            "warning",
        ],
        cwd=house,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        for _ in range(100):
            try:
                httpx.get(f"{url}/runs", timeout=1)
                break
            except httpx.TransportError:
                time.sleep(0.1)
        yield url
    finally:
        process.terminate()
        process.wait(10)


def _config(path: Path, source: dict[str, object]) -> Path:
    lines = ["[server]", 'host = "127.0.0.1"', "", "[rate_limit]", "requests_per_s = 0"]
    path.write_text("\n".join(lines + sources_toml([source])) + "\n", encoding="utf-8")
    return path


def _gateway(house: Path, *args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(  # noqa: S603 (our own command line)
        [sys.executable, "-m", "gateway", *args],
        cwd=house,
        env={**os.environ, **env},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def test_the_unchanged_gateway_serves_a_kind_built_in_the_test(
    house: Path, twin_url: str, tmp_path: Path
) -> None:
    source: dict[str, object] = {
        "name": "acme",
        "kind": "acme",
        "base_url": twin_url,
        "token_env": "ACME_TOKEN",
        "region": "us",
    }
    config = _config(tmp_path / "gateway.toml", source)
    env = {**os.environ, "ACME_TOKEN": "acme_test_sandbox"}
    port = free_port()
    with gateway_process(config, port, env, tmp_path / "gateway.log", cwd=house):
        query = """{
            sources { name kind capabilities }
            execution(id: "acme:run_1") { id status workflow { id } }
            executionFeed(first: 5) { edges { node { id status } } }
        }"""
        answer = httpx.post(
            f"http://127.0.0.1:{port}/graphql", json={"query": query}, timeout=30
        ).json()
    assert "errors" not in answer, answer
    data = answer["data"]
    assert data["sources"] == [{"name": "acme", "kind": "ACME", "capabilities": ["GET", "LIST"]}]
    assert data["execution"] == {
        "id": "acme:run_1",
        "status": "COMPLETED",
        "workflow": {"id": "billing"},
    }
    assert [edge["node"] for edge in data["executionFeed"]["edges"]] == [
        {"id": "acme:run_2", "status": "RUNNING"},
        {"id": "acme:run_1", "status": "COMPLETED"},
    ]


def test_its_declarations_are_what_check_config_and_the_banner_read(
    house: Path, tmp_path: Path
) -> None:
    wrong: dict[str, object] = {
        "name": "acme",
        "kind": "acme",
        "base_url": "http://127.0.0.1:9",
        "region": "mars",
        "list_order": "asc",
    }
    refused = _gateway(
        house, "check-config", "--config", str(_config(tmp_path / "bad.toml", wrong)), env={}
    )
    assert refused.returncode == 2, refused.stderr
    problems = refused.stderr
    assert "token_env: missing (a 'acme' source needs it)" in problems
    assert any("region" in line and "mars" in line for line in problems.splitlines())
    assert "list_order: only 'nesting' sources have it" in problems
    assert "webhook" not in problems

    with_webhooks: dict[str, object] = {
        "name": "acme",
        "kind": "acme",
        "base_url": "http://127.0.0.1:9",
        "token_env": "ACME_TOKEN",
        "webhook_secret_env": "ACME_SECRET",
    }
    config = _config(tmp_path / "hooks.toml", with_webhooks)
    refused = _gateway(
        house, "check-config", "--config", str(config), env={"ACME_TOKEN": "t", "ACME_SECRET": "s"}
    )
    assert refused.returncode == 2
    assert "'acme' sources send no signed webhooks" in refused.stderr

    banner = _gateway(house, "sandbox", "--help", env={})
    assert banner.returncode == 0
    from_copy = subprocess.run(
        [
            sys.executable,
            "-c",
            "from gateway.cli import sandbox_banner; print(sandbox_banner('http://x'))",
        ],
        cwd=house,
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    ).stdout
    assert "acme        x-acme-token: acme_test_sandbox" in from_copy
    assert "GET  /runs" in from_copy
