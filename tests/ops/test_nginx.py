"""docker/nginx.conf for real: nginx in front of two ``gateway serve`` replicas (docker/gateway.toml,
sharing one Redis), and a browser's WebSocket through it.

Compose is not run here, so the test renders a copy of the shipped file with compose's names
replaced: the replicas' loopback ports for ``gateway:8000``, a free port for ``listen 8000``, no
Docker DNS ``resolver`` (and so no ``resolve`` on the servers, which nginx before 1.27.3 does not
know; compose runs nginx 1.27), and files for logs, pid and buffers in the test's folder. Every
other directive is the shipped file's, the ``Host`` the replicas see included: a browser's page at
http://127.0.0.1:8000 sends ``Origin: http://127.0.0.1:8000``, and the gateway's same-origin check
refuses the WebSocket (403) unless that ``Host`` still carries the port.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import time
from contextlib import contextmanager, suppress
from typing import TYPE_CHECKING, Any

import httpx
import pytest
from websockets.exceptions import InvalidStatus

from sandbox import truthlocks
from tests.live.support import TransportWS
from tests.ops.test_docker_files import COMPOSE, GATEWAY_TOML, parse_yaml_subset
from tests.processes import STARTUP_LIMIT_S, free_port, gateway_process

if TYPE_CHECKING:
    from collections.abc import Callable, Iterator
    from pathlib import Path

    from tests.redis_server import RedisServer

pytestmark = pytest.mark.e2e

NGINX_CONF = GATEWAY_TOML.parent / "nginx.conf"
CLIENT_KEY = "compose-client-key-" + "k" * 24
FINISHED = f"tl:{truthlocks.DEMO_COMPLETED_ID}"
STATUS = "query($id: ID!) { execution(id: $id) { status } }"
CHANGED = "subscription($id: ID!) { executionChanged(id: $id) { id status } }"


def require_nginx() -> str:
    """nginx's path; skips locally without it, and fails in CI, whose install must provide it."""
    path = shutil.which("nginx") or next(
        (p for p in ("/usr/sbin/nginx", "/usr/local/sbin/nginx") if os.access(p, os.X_OK)), None
    )
    if path is None:
        if os.environ.get("CI"):
            pytest.fail("nginx is not installed: scripts/system-packages installs it in CI")
        pytest.skip("nginx is not installed (apt-get install nginx-light)")
    return path


def replace_once(pattern: str, replacement: str | Callable[[re.Match[str]], str], text: str) -> str:
    """``text`` with the one match of ``pattern`` replaced; fails when the shipped file changed."""
    result, count = re.subn(pattern, replacement, text, flags=re.MULTILINE)
    assert count == 1, f"docker/nginx.conf: expected one match of {pattern!r}, found {count}"
    return result


def render_nginx_conf(shipped: str, replicas: list[int], port: int, folder: Path) -> str:
    """The shipped conf with compose's hosts and ports replaced (see the module's docstring)."""
    text = replace_once(r"^\s*resolver [^;]*;\n", "", shipped)
    text = replace_once(
        r"server gateway:\d+ resolve ([^;]*);",
        lambda match: "\n        ".join(
            f"server 127.0.0.1:{replica} {match.group(1)};" for replica in replicas
        ),
        text,
    )
    text = replace_once(r"listen \d+;", f"listen 127.0.0.1:{port};", text)
    paths = [f"access_log {folder / 'access.log'};"] + [
        f"{kind}_temp_path {folder / kind};"
        for kind in ("client_body", "proxy", "fastcgi", "uwsgi", "scgi")
    ]
    return replace_once(r"^http \{\n", "http {\n    " + "\n    ".join(paths) + "\n", text)


def replica_config(folder: Path, sandbox_url: str) -> Path:
    """docker/gateway.toml with the sandbox's and the loopback's addresses for compose's."""
    text = GATEWAY_TOML.read_text(encoding="utf-8")
    text = text.replace('"http://sandbox:9000"', f'"{sandbox_url}"')
    text = replace_once(r'^host = "0\.0\.0\.0"', 'host = "127.0.0.1"', text)
    text = replace_once(r'^metrics = "port"', 'metrics = "off"', text)  # one port per host
    path = folder / "gateway.toml"
    path.write_text(text, encoding="utf-8")
    return path


def replica_env(redis_url: str) -> dict[str, str]:
    """compose.yaml's environment for a replica, with this test's key, secret and Redis."""
    compose: dict[str, Any] = parse_yaml_subset(COMPOSE.read_text(encoding="utf-8"))
    env = {str(k): str(v) for k, v in compose["services"]["gateway"]["environment"].items()}
    env.pop("GATEWAY_CONFIG")  # serve --config names the file
    env.update(
        GATEWAY_CLIENT_KEY=CLIENT_KEY,
        GATEWAY_CURSOR_SECRET="c" * 43,
        GATEWAY_REDIS_URL=redis_url,
    )
    return {**os.environ, **env}


@contextmanager
def nginx_process(nginx: str, conf: Path, port: int, folder: Path) -> Iterator[str]:
    """nginx in the foreground on ``conf`` until it proxies ``/healthz``; its base URL."""
    log = folder / "error.log"
    with log.open("ab") as stderr:
        process = subprocess.Popen(  # noqa: S603 (our own command line)
            [
                nginx,
                "-p",
                str(folder),
                "-c",
                str(conf),
                "-g",
                f"daemon off; pid {folder / 'nginx.pid'}; error_log {log};",
            ],
            stdout=subprocess.DEVNULL,
            stderr=stderr,
        )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + STARTUP_LIMIT_S
        while time.monotonic() < deadline and process.poll() is None:
            with suppress(httpx.TransportError):
                if httpx.get(f"{url}/healthz", timeout=1).status_code == 200:
                    break
            time.sleep(0.1)
        else:
            errors = log.read_text() if log.exists() else ""
            raise AssertionError(f"nginx did not start:\n{errors}")
        yield url
    finally:
        process.terminate()
        try:
            process.wait(timeout=STARTUP_LIMIT_S)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


@contextmanager
def compose_on_loopback(folder: Path, sandbox_url: str, redis_url: str) -> Iterator[str]:
    """Two replicas and the load balancer, as compose runs them; the balancer's base URL."""
    nginx = require_nginx()
    config = replica_config(folder, sandbox_url)
    env = replica_env(redis_url)
    ports = [free_port(), free_port()]
    balancer = free_port()
    conf = folder / "nginx.conf"
    conf.write_text(
        render_nginx_conf(NGINX_CONF.read_text(encoding="utf-8"), ports, balancer, folder),
        encoding="utf-8",
    )
    with (
        gateway_process(config, ports[0], env, folder / "replica-a.log"),
        gateway_process(config, ports[1], env, folder / "replica-b.log"),
        nginx_process(nginx, conf, balancer, folder) as url,
    ):
        yield url


async def test_a_browser_subscribes_through_the_load_balancer(
    sandbox_url: str, redis_server: RedisServer, tmp_path: Path
) -> None:
    with compose_on_loopback(tmp_path, sandbox_url, redis_server.url) as url:
        websocket = url.replace("http://", "ws://") + "/graphql"
        # What GraphiQL at http://127.0.0.1:<port>/ opens: its own origin, the key in the payload.
        async with TransportWS.open(
            websocket,
            {"Authorization": f"Bearer {CLIENT_KEY}"},
            origin=url,
        ) as client:
            await client.subscribe("1", CHANGED, {"id": FINISHED})
            first = await client.receive()
            assert first["type"] == "next", first
            assert first["payload"]["data"]["executionChanged"] == {
                "id": FINISHED,
                "status": "COMPLETED",
            }
            assert (await client.receive())["type"] == "complete"

        # The same-origin check still works through the proxy: another site's page is refused.
        with pytest.raises(InvalidStatus) as refused:
            async with TransportWS.open(websocket, origin="http://evil.example"):
                pass
        assert refused.value.response.status_code == 403

        # And plain requests go through it to a replica, with the key.
        async with httpx.AsyncClient(base_url=url, timeout=30) as http:
            answer = await http.post(
                "/graphql",
                json={"query": STATUS, "variables": {"id": FINISHED}},
                headers={"Authorization": f"Bearer {CLIENT_KEY}"},
            )
        assert answer.status_code == 200, answer.text
        assert answer.json()["data"]["execution"]["status"] == "COMPLETED"


def test_the_shipped_conf_is_what_is_served_bar_compose_names(tmp_path: Path) -> None:
    """Only the named lines change; every other directive reaches nginx as shipped."""
    shipped = NGINX_CONF.read_text(encoding="utf-8")
    rendered = render_nginx_conf(shipped, [1001, 1002], 1003, tmp_path)
    changed = ("resolver ", "server gateway:", "listen ")
    for line in shipped.splitlines():
        directive = line.strip()
        if directive and not directive.startswith("#") and not directive.startswith(changed):
            assert line in rendered.splitlines(), line
    assert "proxy_set_header Host $http_host;" in rendered
