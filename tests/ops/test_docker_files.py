"""docker/ agrees with the repository, the config and the command line (no engine runs here).

The Dockerfile is read with a line parser and compose.yaml with a parser for the small YAML subset
it uses (block mappings, block lists of scalars, JSON-style flow lists), so a renamed script, a
moved config or a port changed in one place only fails here rather than in someone's build.
"""

from __future__ import annotations

import fnmatch
import json
import os
import re
import shlex
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from gateway import cli
from gateway.config import ServerConfig, load_config
from sandbox import SANDBOX_CREDENTIALS

ROOT = Path(__file__).resolve().parents[2]
DOCKERFILE = ROOT / "docker" / "Dockerfile"
COMPOSE = ROOT / "docker" / "compose.yaml"
GATEWAY_TOML = ROOT / "docker" / "gateway.toml"
DOCKERIGNORE = ROOT / ".dockerignore"
BASE_IMAGE = "python:3.11-slim"


# --- a Dockerfile, one instruction per logical line ----------------------------------------


@dataclass
class Stage:
    base: str
    name: str | None
    instructions: list[tuple[str, str]] = field(default_factory=list)

    def all(self, keyword: str) -> list[str]:
        return [args for kw, args in self.instructions if kw == keyword]

    def one(self, keyword: str) -> str:
        found = self.all(keyword)
        assert len(found) == 1, f"expected one {keyword} in stage {self.name or self.base}"
        return found[0]


def parse_dockerfile(text: str) -> tuple[dict[str, str], list[Stage]]:
    """Global ARG defaults and the stages, with continuation lines joined."""
    logical: list[str] = []
    pending = ""
    for line in text.splitlines():
        if line.lstrip().startswith("#") and not pending:
            continue
        if line.rstrip().endswith("\\"):
            pending += line.rstrip()[:-1] + " "
            continue
        line = pending + line
        pending = ""
        if line.strip():
            logical.append(line.strip())
    args: dict[str, str] = {}
    stages: list[Stage] = []
    for line in logical:
        keyword, _, rest = line.partition(" ")
        keyword, rest = keyword.upper(), rest.strip()
        if keyword == "FROM":
            words = rest.split()
            base = re.sub(r"\$\{(\w+)\}", lambda m: args[m.group(1)], words[0])
            name = words[2] if len(words) == 3 and words[1].upper() == "AS" else None
            stages.append(Stage(base=base, name=name))
        elif not stages and keyword == "ARG":
            key, _, default = rest.partition("=")
            args[key] = default
        else:
            stages[-1].instructions.append((keyword, rest))
    return args, stages


def exec_form(args: str) -> list[str]:
    value = json.loads(args)
    assert isinstance(value, list)
    return [str(v) for v in value]


def env_of(stage: Stage) -> dict[str, str]:
    env: dict[str, str] = {}
    for args in stage.all("ENV"):
        for word in shlex.split(args):
            key, _, value = word.partition("=")
            env[key] = value
    return env


def copies(stage: Stage) -> list[tuple[list[str], str]]:
    """(sources, destination) of each COPY from the build context (not ``--from``)."""
    found = []
    for args in stage.all("COPY"):
        words = args.split()
        if any(w.startswith("--from") for w in words):
            continue
        words = [w for w in words if not w.startswith("--")]
        found.append((words[:-1], words[-1]))
    return found


# --- the YAML subset compose.yaml is written in ----------------------------------------------


def parse_yaml_subset(text: str) -> Any:
    """Block mappings, block lists of scalars, JSON flow lists, quoted or plain scalars, comments."""
    lines: list[tuple[int, str]] = []
    for raw in text.splitlines():
        if raw.lstrip().startswith("#"):
            continue
        content = raw.split(" #", 1)[0].rstrip()
        if content.strip():
            lines.append((len(content) - len(content.lstrip()), content.strip()))
    value, end = _yaml_block(lines, 0)
    assert end == len(lines), f"unparsed YAML from line: {lines[end][1]!r}"
    return value


def _yaml_block(lines: list[tuple[int, str]], start: int) -> tuple[Any, int]:
    indent, first = lines[start]
    if first.startswith("- "):
        items: list[Any] = []
        i = start
        while i < len(lines) and lines[i][0] == indent and lines[i][1].startswith("- "):
            items.append(_yaml_scalar(lines[i][1][2:].strip()))
            i += 1
        return items, i
    mapping: dict[str, Any] = {}
    i = start
    while i < len(lines) and lines[i][0] == indent:
        text = lines[i][1]
        key, rest = (text[:-1], "") if text.endswith(":") else text.split(": ", 1)
        i += 1
        if rest.strip():
            mapping[key] = _yaml_scalar(rest.strip())
        elif i < len(lines) and lines[i][0] > indent:
            mapping[key], i = _yaml_block(lines, i)
        else:
            mapping[key] = None
    return mapping, i


def _yaml_scalar(text: str) -> Any:
    if text.startswith("["):
        return json.loads(text)
    if len(text) >= 2 and text[0] in "\"'" and text[-1] == text[0]:
        return text[1:-1]
    return text


def test_the_yaml_subset_parser_reads_what_compose_uses() -> None:
    text = 'a:\n  b: "x: y"  # note\n  c: [1, "two"]\n  d:\n    - "1:2"\n    - plain\n'
    assert parse_yaml_subset(text) == {"a": {"b": "x: y", "c": [1, "two"], "d": ["1:2", "plain"]}}


# --- fixtures -------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def stages() -> list[Stage]:
    args, stages = parse_dockerfile(DOCKERFILE.read_text(encoding="utf-8"))
    assert args.get("PYTHON_IMAGE") == BASE_IMAGE
    return stages


@pytest.fixture(scope="module")
def final(stages: list[Stage]) -> Stage:
    return stages[-1]


@pytest.fixture(scope="module")
def compose() -> dict[str, Any]:
    parsed = parse_yaml_subset(COMPOSE.read_text(encoding="utf-8"))
    assert isinstance(parsed, dict)
    return parsed


@pytest.fixture(scope="module")
def toml_config() -> dict[str, Any]:
    return tomllib.loads(GATEWAY_TOML.read_text(encoding="utf-8"))


def ignored(path: str) -> bool:
    patterns = [
        line.strip()
        for line in DOCKERIGNORE.read_text(encoding="utf-8").splitlines()
        if line.strip() and not line.startswith("#")
    ]
    parts = Path(path).parts
    return any(
        fnmatch.fnmatch(path, p)
        or fnmatch.fnmatch(parts[0], p)
        or (p.startswith("**/") and any(fnmatch.fnmatch(part, p[3:]) for part in parts))
        for p in patterns
    )


# --- the Dockerfile -------------------------------------------------------------------------


def test_the_image_is_multi_stage_on_python_3_11_slim(stages: list[Stage]) -> None:
    assert len(stages) >= 2
    assert all(stage.base == BASE_IMAGE for stage in stages)
    assert stages[0].name == "builder"
    assert any("--from=builder" in args for args in stages[-1].all("COPY"))


def test_every_copied_path_exists_and_is_not_dockerignored(stages: list[Stage]) -> None:
    for stage in stages:
        for sources, _ in copies(stage):
            for source in sources:
                assert (ROOT / source).exists(), f"COPY {source}: not in the repository"
                assert not ignored(source), f"COPY {source}: excluded by .dockerignore"


def test_the_image_installs_with_the_shared_install_script(stages: list[Stage]) -> None:
    builder = stages[0]
    runs = builder.all("RUN")
    install = [r for r in runs if "scripts/install" in r]
    assert len(install) == 1, "the builder installs with scripts/install, as README and CI do"
    assert "--prod" in install[0]
    copied = {source for sources, _ in copies(builder) for source in sources}
    for script in re.findall(r"scripts/[\w.-]+", " ".join(runs)):
        path = ROOT / script
        assert path.is_file(), f"RUN {script}: no such script"
        assert os.access(path, os.X_OK), f"{script} is not executable"
        assert script in copied, f"RUN {script}: not copied into the builder"
    script = (ROOT / "scripts" / "install").read_text(encoding="utf-8")
    assert "--prod)" in script
    assert 'VENV="${VENV:-.venv}"' in script, "the default stays .venv/ for the README and CI"
    # Everything pip needs to build the package is in the builder.
    for needed in ("pyproject.toml", "constraints.txt", "README.md", "gateway", "adapters"):
        assert needed in copied


def test_the_final_stage_runs_as_a_user_not_root(final: Stage) -> None:
    user = final.one("USER")
    assert user not in ("root", "0")
    assert any("useradd" in r and user in r for r in final.all("RUN"))


def test_the_entrypoint_serves_the_config_the_environment_names(final: Stage) -> None:
    entrypoint = exec_form(final.one("ENTRYPOINT"))
    command = " ".join(entrypoint)
    assert 'gateway serve --config "$GATEWAY_CONFIG"' in command
    assert command.startswith("/bin/sh -c exec "), "exec, so the gateway receives SIGTERM"
    args = cli._parser().parse_args(["serve", "--config", "x.toml"])
    assert args.run is cli._serve
    config_path = env_of(final)["GATEWAY_CONFIG"]
    destinations = {dest: sources for sources, dest in copies(final)}
    assert config_path in destinations, "the image ships a config at $GATEWAY_CONFIG"
    assert (ROOT / destinations[config_path][0]).resolve() == GATEWAY_TOML


def test_the_healthcheck_and_exposed_ports_match_the_config(
    final: Stage, toml_config: dict[str, Any]
) -> None:
    server = toml_config["server"]
    healthcheck = final.one("HEALTHCHECK")
    url = re.search(r"http://127\.0\.0\.1:(\d+)(/\w+)", healthcheck)
    assert url is not None
    assert int(url.group(1)) == server["port"]
    assert url.group(2) == "/healthz"
    assert "CMD" in healthcheck
    assert "curl" not in healthcheck
    exposed = {int(p) for args in final.all("EXPOSE") for p in args.split()}
    assert exposed == {server["port"], server["metrics_port"]}
    assert server["metrics"] == "port"
    assert server["host"] == "0.0.0.0"


# --- compose.yaml and docker/gateway.toml ---------------------------------------------------


def test_compose_commands_are_real_gateway_subcommands(
    compose: dict[str, Any], toml_config: dict[str, Any]
) -> None:
    services = compose["services"]
    assert set(services) == {"sandbox", "redis", "gateway", "lb"}
    sandbox = services["sandbox"]["entrypoint"]
    assert sandbox[0] == "gateway"
    args = cli._parser().parse_args(sandbox[1:])
    assert args.run is cli._sandbox
    assert args.host == "0.0.0.0"
    for source in toml_config["sources"]:
        assert source["base_url"] == f"http://sandbox:{args.port}"
    assert str(args.port) in " ".join(services["sandbox"]["healthcheck"]["test"])
    # The gateway service runs the image's own entrypoint (checked above), with the same image.
    assert "entrypoint" not in services["gateway"]
    assert "command" not in services["gateway"]
    for name in ("sandbox", "gateway"):
        assert services[name]["build"] == {"context": "..", "dockerfile": "docker/Dockerfile"}
    assert services["gateway"]["depends_on"] == {
        "sandbox": {"condition": "service_healthy"},
        "redis": {"condition": "service_healthy"},
    }
    assert int(services["gateway"]["deploy"]["replicas"]) >= 2


def test_compose_publishes_the_configured_ports_and_mounts_the_config(
    compose: dict[str, Any], final: Stage, toml_config: dict[str, Any]
) -> None:
    gateway = compose["services"]["gateway"]
    server = toml_config["server"]
    assert "ports" not in gateway, "replicas are reached through the load balancer only"
    balancer = compose["services"]["lb"]
    published = {int(mapping.rsplit(":", 1)[1]) for mapping in balancer["ports"]}
    assert published == {server["port"]}
    assert "./nginx.conf:/etc/nginx/nginx.conf:ro" in balancer["volumes"]
    config_path = gateway["environment"]["GATEWAY_CONFIG"]
    assert config_path == env_of(final)["GATEWAY_CONFIG"]
    assert f"./gateway.toml:{config_path}:ro" in gateway["volumes"]
    grace = int(gateway["stop_grace_period"].removesuffix("s"))
    assert grace > server["shutdown_timeout_s"], "docker must wait out the graceful shutdown"


def test_compose_provides_every_secret_the_config_names(
    compose: dict[str, Any], tmp_path: Path
) -> None:
    environment = dict(compose["services"]["gateway"]["environment"])
    assert environment["GATEWAY_CLIENT_KEY"].startswith("${GATEWAY_CLIENT_KEY:?"), (
        "the client key comes from the operator, never a default in the file"
    )
    assert environment["GATEWAY_CURSOR_SECRET"].startswith("${GATEWAY_CURSOR_SECRET:?")
    environment["GATEWAY_CLIENT_KEY"] = "a-key-from-the-operator"
    environment["GATEWAY_CURSOR_SECRET"] = "a-secret-from-the-operator"
    config = load_config(GATEWAY_TOML, environment)
    assert config.auth.mode == "api_key"
    assert config.state.backend == "redis"
    assert config.state.redis_url == "redis://redis:6379/0"
    redis = compose["services"]["redis"]
    assert "redis-cli" in redis["healthcheck"]["test"]
    names = {"rotavision": "rv", "velt": "velt", "nesting": "zaia", "truthlocks": "tl"}
    for kind, secrets in SANDBOX_CREDENTIALS.items():
        source = config.source(names[kind])
        assert source is not None
        for secret, value in secrets.items():
            assert source.credentials.get(secret) == value


def test_dockerignore_keeps_local_state_out_of_the_build_context() -> None:
    for path in (".git", ".venv", "tests", "gateway/__pycache__", "execution_gateway.egg-info"):
        assert ignored(path), path


NGINX_CONF = ROOT / "docker" / "nginx.conf"


def test_the_load_balancer_spreads_over_the_replicas_and_passes_websockets(
    toml_config: dict[str, Any],
) -> None:
    text = NGINX_CONF.read_text()
    directives = [
        line.strip()
        for line in text.splitlines()
        if line.strip() and not line.strip().startswith("#")
    ]
    port = toml_config["server"]["port"]
    assert f"server gateway:{port} resolve max_fails=2 fail_timeout=5s;" in directives
    assert f"listen {port};" in directives
    assert "proxy_pass http://gateway_replicas;" in directives
    assert "proxy_http_version 1.1;" in directives
    assert "proxy_set_header Upgrade $http_upgrade;" in directives
    assert "proxy_set_header Connection $connection_upgrade;" in directives
    # The port stays in Host: the same-origin check compares it with a browser's Origin
    # (tests/ops/test_nginx.py runs the conf).
    assert "proxy_set_header Host $http_host;" in directives
    assert "proxy_buffering off;" in directives
    # Bounds before a replica: headers, slow clients, bodies. The proxy's body bound is at least
    # the gateway's, so an oversized body gets the gateway's typed 413, not nginx's page.
    sizes = [d for d in directives if d.startswith("client_max_body_size ")]
    assert len(sizes) == 1
    proxy_limit = int(sizes[0].split()[1].rstrip(";m")) * 1_048_576
    gateway_limit = toml_config.get("server", {}).get(
        "max_body_bytes", ServerConfig().max_body_bytes
    )
    assert gateway_limit <= proxy_limit <= 2 * gateway_limit
    assert any(d.startswith("client_header_timeout ") for d in directives)
    assert text.count("{") == text.count("}")
