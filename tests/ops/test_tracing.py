"""Tracing: absent unless enabled, a clear start-up error without the extra, spans with it."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from typing import TYPE_CHECKING, Any

import pytest

from gateway import cli
from gateway.config import ConfigError
from gateway.demo import DEMO_EXECUTION_ID
from gateway.http.app import create_app
from tests.ops.helpers import client_for, demo_config_with
from tests.serving import graphql

if TYPE_CHECKING:
    from pathlib import Path

pytestmark = pytest.mark.e2e

QUERY = f'query GetOne {{ execution(id: "{DEMO_EXECUTION_ID}") {{ status }} }}'
OTEL_MODULES = (
    "opentelemetry",
    "opentelemetry.sdk.trace",
    "opentelemetry.exporter.otlp.proto.http.trace_exporter",
)
TRACE_ID = "0af7651916cd43dd8448eb211c80319c"
PARENT_SPAN_ID = "b7ad6b7169203331"


def test_nothing_imports_opentelemetry_while_tracing_is_off() -> None:
    script = textwrap.dedent(
        """
        import sys
        from starlette.testclient import TestClient
        from gateway.http.app import create_app
        from gateway.demo import demo_config
        import gateway.cli, gateway.ops.tracing

        app = create_app(demo_config("http://127.0.0.1:9"))
        with TestClient(app) as client:
            assert client.get("/readyz").status_code == 200
            client.post("/graphql", json={"query": "{ sources { name } }"})
        print(sorted(m for m in sys.modules if m.startswith("opentelemetry")))
        """
    )
    result = subprocess.run(  # noqa: S603 (our own interpreter)
        [sys.executable, "-W", "ignore", "-c", script],
        capture_output=True,
        text=True,
        check=True,
    )
    assert result.stdout.strip() == "[]"


@pytest.fixture
def without_opentelemetry(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in OTEL_MODULES:
        monkeypatch.setitem(sys.modules, name, None)


@pytest.mark.usefixtures("without_opentelemetry")
def test_enabled_without_the_extra_fails_at_start_up() -> None:
    config = demo_config_with("http://127.0.0.1:9", tracing={"enabled": True})
    with pytest.raises(ConfigError, match=r"tracing\.enabled: .*execution-gateway\[tracing\]"):
        create_app(config)


@pytest.mark.usefixtures("without_opentelemetry")
def test_serve_says_what_to_install(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "gateway.toml"
    path.write_text(
        '[tracing]\nenabled = true\n\n[[sources]]\nname = "rv"\nkind = "rotavision"\n'
        'base_url = "http://127.0.0.1:9"\napi_key_env = "HOME"\n',
        encoding="utf-8",
    )
    assert cli.main(["serve", "--config", str(path)]) == cli.EXIT_CONFIG
    assert "pip install 'execution-gateway[tracing]'" in capsys.readouterr().err


async def test_spans_for_the_operation_and_each_upstream_call(
    sandbox_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    memory: Any = pytest.importorskip(
        "opentelemetry.sdk.trace.export.in_memory_span_exporter",
        reason="the tracing extra is not installed",
    )
    trace: Any = pytest.importorskip("opentelemetry.trace")
    exporter = memory.InMemorySpanExporter()
    monkeypatch.setattr("gateway.ops.tracing._exporter", lambda config: exporter)
    config = demo_config_with(sandbox_url, tracing={"enabled": True, "service_name": "gw-test"})
    app = create_app(config)
    async with client_for(app) as client:
        traceparent = f"00-{TRACE_ID}-{PARENT_SPAN_ID}-01"
        body = await graphql(client, QUERY, headers={"traceparent": traceparent})
        assert "errors" not in body
        app.state.tracing.provider.force_flush()
        spans = exporter.get_finished_spans()

    server = next(s for s in spans if s.kind == trace.SpanKind.SERVER)
    assert server.name == "graphql GetOne"
    assert format(server.context.trace_id, "032x") == TRACE_ID, "it continues the caller's trace"
    assert format(server.parent.span_id, "016x") == PARENT_SPAN_ID
    assert server.attributes["gateway.outcome"] == "ok"
    assert server.resource.attributes["service.name"] == "gw-test"
    upstream = [s for s in spans if s.kind == trace.SpanKind.CLIENT]
    assert len(upstream) == 1
    call = upstream[0]
    assert call.name == "GET /v1/orchestrate/executions/{}"
    assert call.parent.span_id == server.context.span_id
    assert call.attributes["gateway.source"] == "rv"
    assert call.attributes["http.response.status_code"] == 200
    assert call.start_time < call.end_time
