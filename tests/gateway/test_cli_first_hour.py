"""A new user's first hour with ``gateway``: version, help, a taken port, what serve and the
sandbox print."""

from __future__ import annotations

import json
import re
import socket
import subprocess
import sys
import time
from contextlib import asynccontextmanager
from importlib.metadata import version
from typing import TYPE_CHECKING

import httpx
import pytest
from starlette.applications import Starlette

from gateway import cli
from gateway.config import ServerConfig
from sandbox import SANDBOX_CREDENTIALS
from sandbox.agent_server import langgraph_command
from tests.processes import free_port

if TYPE_CHECKING:
    from collections.abc import AsyncIterator, Callable, Iterator
    from pathlib import Path

GATEWAY = (sys.executable, "-m", "gateway")
BANNER_LIMIT_S = 30
TRUTHLOCKS_ID = "maip-orch:01JDEMO0000000000000000000"
UVICORN_STARTUP_FAILURE = 3


def test_version_names_the_installed_package(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exited:
        cli.main(["--version"])
    assert exited.value.code == 0
    assert capsys.readouterr().out.strip() == f"gateway {version('execution-gateway')}"


@pytest.mark.parametrize(
    ("command", "shown"),
    [
        pytest.param("demo", "(default: 8000)", id="demo-port"),
        pytest.param("sandbox", "(default: 9000)", id="sandbox-port"),
        pytest.param("serve", "TOML config file", id="serve-config"),
        pytest.param("check-config", "TOML config file", id="check-config"),
    ],
)
def test_help_shows_defaults_and_what_config_is(
    command: str, shown: str, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit):
        cli.main([command, "--help"])
    assert shown in " ".join(capsys.readouterr().out.split())


@pytest.fixture
def taken_port() -> Iterator[int]:
    """A port something else already listens on."""
    with socket.socket() as other:
        other.bind(("127.0.0.1", 0))
        other.listen()
        yield other.getsockname()[1]


@pytest.mark.parametrize(
    ("argv", "flag"),
    [
        pytest.param(["demo", "--port"], "--port", id="demo"),
        pytest.param(
            ["demo", "--port", "0", "--sandbox-port"], "--sandbox-port", id="demo-sandbox"
        ),
        pytest.param(["sandbox", "--port"], "--port", id="sandbox"),
    ],
)
def test_a_taken_port_is_named_before_any_url(
    argv: list[str], flag: str, taken_port: int, capsys: pytest.CaptureFixture[str]
) -> None:
    assert cli.main([*argv, str(taken_port)]) == cli.EXIT_CONFIG
    out, err = capsys.readouterr()
    assert out == "", "no URL banner for a server that cannot start"
    assert f"127.0.0.1:{taken_port}: already in use" in err
    assert f"choose another port with {flag}" in err


@pytest.mark.parametrize("workers", ["1", "2"])
def test_serve_names_a_taken_port(
    workers: str, taken_port: int, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """With workers too: they serve on the socket ``serve`` binds itself (``cli._listen``)."""
    monkeypatch.setenv("RV_KEY", "rv-key")
    config = tmp_path / "gateway.toml"
    config.write_text(
        f'[server]\nport = {taken_port}\nmetrics = "off"\n'
        '[[sources]]\nname = "rv"\nkind = "rotavision"\nbase_url = "http://127.0.0.1:9"\n'
        'api_key_env = "RV_KEY"\n',
        encoding="utf-8",
    )
    # A process of its own: serve configures logging process-wide.
    done = subprocess.run(  # noqa: S603 (our own interpreter and module)
        [*GATEWAY, "serve", "--config", str(config), "--workers", workers],
        capture_output=True,
        text=True,
        timeout=BANNER_LIMIT_S,
        check=False,
    )
    assert done.returncode == cli.EXIT_CONFIG
    assert f"127.0.0.1:{taken_port}: already in use" in done.stderr
    assert "--port (or server.port)" in done.stderr


@pytest.fixture
def sandbox_banner() -> Iterator[list[str]]:
    """``gateway sandbox --port 0`` run as a user would; its banner's lines while it serves."""
    with subprocess.Popen(  # noqa: S603 (our own interpreter and module)
        [*GATEWAY, "sandbox", "--port", "0", "--executions", "5"],
        stdout=subprocess.PIPE,
        text=True,
    ) as process:
        assert process.stdout is not None
        lines: list[str] = []
        try:
            while not lines or not lines[-1].startswith("try:"):
                line = process.stdout.readline()
                assert line, f"the sandbox exited before its banner was complete: {lines}"
                lines.append(line.rstrip("\n"))
            yield lines
        finally:
            process.terminate()
            process.wait(timeout=BANNER_LIMIT_S)


def test_the_sandbox_banner_gives_credentials_that_work(sandbox_banner: list[str]) -> None:
    url = sandbox_banner[0].removeprefix("sandbox upstreams:").strip()
    assert re.fullmatch(r"http://127\.0\.0\.1:\d+", url)
    requests: dict[str, tuple[dict[str, str], str, str]] = {}
    for credentials_line, endpoint_line in zip(
        sandbox_banner[2:-2:2], sandbox_banner[3:-2:2], strict=True
    ):
        kind, *pairs = re.split(r"\s{2,}", credentials_line.strip())
        headers = dict(pair.split(": ", 1) for pair in pairs)
        method, path = endpoint_line.split()[:2]
        requests[kind] = (headers, method, path.replace("<id>", TRUTHLOCKS_ID))
    assert set(requests) == set(SANDBOX_CREDENTIALS)
    with httpx.Client(base_url=url, timeout=BANNER_LIMIT_S) as client:
        for kind, (headers, method, path) in requests.items():
            for secret in SANDBOX_CREDENTIALS[kind].values():
                assert any(secret in value for value in headers.values()), (kind, secret)
            body: dict[str, object] | None = {"data": {}} if method == "POST" else None
            accepted = client.request(method, path, headers=headers, json=body)
            refused = client.request(method, path, json=body)
            assert accepted.status_code == 200, (kind, accepted.text)
            assert refused.status_code in (400, 401, 403), (kind, refused.status_code)


def test_connections_on_the_bound_socket_send_small_writes_at_once() -> None:
    """asyncio's loop turns Nagle off only on sockets that say TCP; with Nagle on, a response
    written as headers then body waited 44 ms for the client's delayed ACK."""
    with cli._listen("127.0.0.1", 0) as listener:
        client = socket.create_connection(listener.getsockname())
        accepted, _ = listener.accept()
        with client, accepted:
            assert accepted.proto == socket.IPPROTO_TCP
            assert accepted.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY) != 0


def test_an_app_that_fails_to_start_exits_as_uvicorn_would() -> None:
    @asynccontextmanager
    async def broken(app: Starlette) -> AsyncIterator[None]:
        raise RuntimeError("the upstream clients could not open")
        yield

    sock = cli._listen("127.0.0.1", 0)
    options = {"lifespan": "on", "log_level": "critical"}
    with pytest.raises(SystemExit) as exited:
        cli._serve_on(sock, Starlette(lifespan=broken), options)
    assert exited.value.code == UVICORN_STARTUP_FAILURE
    assert sock.fileno() == -1, "the bound socket is closed either way"


def test_serve_says_where_it_listens_and_each_address_answers(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The one line ``serve`` prints names the API, GraphiQL and /metrics; each of them answers."""
    metrics_port = free_port()
    config = tmp_path / "gateway.toml"
    config.write_text(
        f'[server]\nport = 0\nmetrics = "port"\nmetrics_port = {metrics_port}\n'
        '[[sources]]\nname = "rv"\nkind = "rotavision"\nbase_url = "http://127.0.0.1:9"\n'
        'api_key_env = "RV_KEY"\n',
        encoding="utf-8",
    )
    monkeypatch.setenv("RV_KEY", "rv-key")
    with subprocess.Popen(  # noqa: S603 (our own interpreter and module)
        [*GATEWAY, "serve", "--config", str(config)], stdout=subprocess.PIPE, text=True
    ) as process:
        assert process.stdout is not None
        try:
            line = process.stdout.readline().rstrip("\n")
            found = re.fullmatch(
                r"gateway: serving (http://127\.0\.0\.1:\d+)/graphql; "
                r"GraphiQL on \(\1/ in a browser\); metrics (http://\S+)",
                line,
            )
            assert found, line
            base, metrics = found.groups()
            assert metrics == f"http://127.0.0.1:{metrics_port}/metrics"
            with httpx.Client(timeout=BANNER_LIMIT_S, follow_redirects=True) as client:
                page = client.get(f"{base}/", headers={"accept": "text/html"})
                assert page.status_code == 200
                assert "text/html" in page.headers["content-type"]
                assert client.get(metrics).status_code == 200
        finally:
            process.terminate()
            process.wait(timeout=BANNER_LIMIT_S)


@pytest.mark.parametrize(
    ("server", "said"),
    [
        pytest.param(
            ServerConfig(graphiql=False, metrics="off"),
            "gateway: serving http://127.0.0.1:8000/graphql; GraphiQL off; metrics off",
            id="both-off",
        ),
        pytest.param(
            ServerConfig(host="::1", metrics="open"),
            "gateway: serving http://[::1]:8000/graphql; GraphiQL on (http://[::1]:8000/ in a "
            "browser); metrics http://[::1]:8000/metrics",
            id="ipv6-metrics-open",
        ),
    ],
)
def test_the_serve_line_says_off_and_brackets_ipv6(server: ServerConfig, said: str) -> None:
    assert cli.serve_banner(server, 8000) == said


def first_lines(process: subprocess.Popen[str], last_prefix: str) -> list[str]:
    """The process's stdout up to and including the line starting with ``last_prefix``."""
    assert process.stdout is not None
    lines: list[str] = []
    while not lines or not lines[-1].startswith(last_prefix):
        line = process.stdout.readline()
        assert line, f"the process exited before printing {last_prefix!r}: {lines}"
        lines.append(line.rstrip("\n"))
    return lines


def wait_for(check: Callable[[], bool], what: str) -> None:
    deadline = time.monotonic() + BANNER_LIMIT_S
    while not check():
        assert time.monotonic() < deadline, f"never happened: {what}"
        time.sleep(0.1)


def test_the_demo_sums_up_its_own_webhooks_and_logs_a_users_requests(tmp_path: Path) -> None:
    """Its webhooks every 0.2 s would scroll the banner away: one summary line instead."""
    log = tmp_path / "stderr.log"
    with (
        log.open("w") as stderr,
        subprocess.Popen(  # noqa: S603 (our own interpreter and module)
            [*GATEWAY, "demo", "--port", "0", "--progress-s", "0.2", "--summary-s", "1"],
            stdout=subprocess.PIPE,
            stderr=stderr,
            text=True,
        ) as process,
    ):
        try:
            banner = first_lines(process, "try:")
            graphiql = next(line for line in banner if line.startswith("GraphiQL:"))
            url = graphiql.removeprefix("GraphiQL:").strip()
            answer = httpx.post(url, json={"query": "{ __typename }"}, timeout=BANNER_LIMIT_S)
            assert answer.status_code == 200
            wait_for(lambda: '"background_summary"' in log.read_text(), "a summary line")
        finally:
            process.terminate()
            process.wait(timeout=BANNER_LIMIT_S)
    # LangGraph's real server when the extra is installed (CI), one line saying how otherwise;
    # either way nothing of it outlives the demo.
    (langgraph,) = [line for line in banner if line.startswith("langgraph: ")]
    if langgraph_command() is None:
        assert langgraph.startswith("langgraph: left out; to add it: EXTRAS=langgraph")
    else:
        server = langgraph.split()[1]
        assert server.startswith("http://127.0.0.1:"), langgraph
        with pytest.raises(httpx.TransportError):
            httpx.get(f"{server}/ok", timeout=2)
    lines = log.read_text().splitlines()
    summaries = [json.loads(line) for line in lines if '"background_summary"' in line]
    assert summaries[0]["webhooks"] > 0, summaries
    assert not [line for line in lines if "/webhooks/" in line], "no line per webhook"
    assert any("POST /graphql 200" in line for line in lines), "a person's request is logged"


def test_the_sandbox_alone_finishes_runs_with_progress(tmp_path: Path) -> None:
    """``gateway sandbox --progress-s``: what moves subscriptions against it (through polls)."""
    with subprocess.Popen(  # noqa: S603 (our own interpreter and module)
        [*GATEWAY, "sandbox", "--port", "0", "--executions", "40", "--progress-s", "0.5"],
        stdout=subprocess.PIPE,
        text=True,
    ) as process:
        try:
            url = first_lines(process, "try:")[0].removeprefix("sandbox upstreams:").strip()
            key = SANDBOX_CREDENTIALS["rotavision"]["api_key"]
            with httpx.Client(
                base_url=url, headers={"Authorization": f"Bearer {key}"}, timeout=BANNER_LIMIT_S
            ) as client:

                def running() -> set[str]:
                    page = client.get("/v1/orchestrate/executions").json()["data"]
                    return {run["id"] for run in page if run["status"] == "running"}

                before = running()
                assert before, "the seeded data has running executions"
                wait_for(lambda: bool(before - running()), "a running execution finishing")
        finally:
            process.terminate()
            process.wait(timeout=BANNER_LIMIT_S)
