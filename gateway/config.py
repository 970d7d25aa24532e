"""The gateway's TOML configuration (design §4): parsed, validated, secrets read from the environment.

A bad file gets one message naming the key (``sources[1].kind: …``) and ``gateway`` exits non-zero.
Any scalar can be overridden by the environment: ``GATEWAY__SERVER__PORT=9000``, or for a source
``GATEWAY__SOURCES__<NAME>__BASE_URL=…`` (name upper-cased, ``-`` as ``_``). Values are read as TOML
literals when they parse as one (``9000``, ``true``), else as strings.
"""

from __future__ import annotations

import difflib
import ipaddress
import os
import re
import tomllib
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from adapters._http import DEFAULT_CONNECT_TIMEOUT_S, DEFAULT_MAX_CONCURRENCY, DEFAULT_TIMEOUT_S
from adapters._wire import UPSTREAM_CLIENTS
from adapters.base import Credentials
from adapters.model import SourceKind

if TYPE_CHECKING:
    from collections.abc import Mapping
    from pathlib import Path

__all__ = [
    "DEFAULT_ACTIVE_TTL_S",
    "DEFAULT_CACHE_ENTRIES",
    "DEFAULT_TERMINAL_TTL_S",
    "AuditConfig",
    "AuthConfig",
    "CacheConfig",
    "ClientConfig",
    "ConfigError",
    "GatewayConfig",
    "LimitsConfig",
    "LoggingConfig",
    "RateLimitConfig",
    "ServerConfig",
    "SourceConfig",
    "TracingConfig",
    "load_config",
    "parse_config",
]

DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 8000
DEFAULT_CACHE_ENTRIES = 10_000
DEFAULT_TERMINAL_TTL_S = 300.0
DEFAULT_ACTIVE_TTL_S = 2.0
DEFAULT_RETRIES = 2
DEFAULT_REQUEST_DEADLINE_S = 15.0
DEFAULT_MAX_BODY_BYTES = 1_000_000
DEFAULT_SHUTDOWN_TIMEOUT_S = 10.0
DEFAULT_BREAKER_FAILURES = 5
DEFAULT_BREAKER_COOLDOWN_S = 10.0
METRICS_MODES = ("off", "open", "port")
LOG_FORMATS = ("auto", "json", "text")
ENV_PREFIX = "GATEWAY__"
SOURCE_NAME = re.compile(r"^[a-z0-9-]{1,32}$")
ROLES = frozenset({"viewer", "approver"})
AUTH_MODES = ("none", "api_key")


class ConfigError(Exception):
    """A configuration problem, worded for the person who edits the file."""


@dataclass(frozen=True, slots=True)
class ServerConfig:
    host: str = DEFAULT_HOST
    port: int = DEFAULT_PORT
    graphiql: bool = True
    introspection: bool = True
    request_deadline_s: float = DEFAULT_REQUEST_DEADLINE_S
    """No GraphQL request runs longer: upstream calls get what is left of it, then time out."""
    max_body_bytes: int = DEFAULT_MAX_BODY_BYTES
    cors_origins: tuple[str, ...] = ()
    metrics: str = "open"
    """``off``: no /metrics; ``open``: /metrics on the main port; ``port``: on ``metrics_port`` only."""
    metrics_port: int = 9464
    shutdown_timeout_s: float = DEFAULT_SHUTDOWN_TIMEOUT_S
    cursor_secret_env: str | None = None
    """Names the variable holding the key that signs cursors; replicas must share it."""
    cursor_secret: str | None = field(default=None, repr=False)
    fast_paths: bool = True
    """The schema's speed work (docs/performance.md); false leaves stock strawberry execution."""
    upstream_client: str = "httptools"
    """What carries upstream calls: ``httptools`` (our keep-alive client, the default and the
    fastest), ``aiohttp``, or ``httpx``'s own transport (docs/performance.md)."""

    @property
    def is_loopback(self) -> bool:
        if self.host == "localhost":
            return True
        try:
            return ipaddress.ip_address(self.host).is_loopback
        except ValueError:
            return False


@dataclass(frozen=True, slots=True)
class ClientConfig:
    name: str
    key_env: str
    roles: frozenset[str]
    reviewer_id: str | None
    key: str = field(repr=False)


@dataclass(frozen=True, slots=True)
class AuthConfig:
    mode: str = "none"
    allow_none_on_public_host: bool = False
    anonymous_reviewer_id: str | None = None
    """The reviewer id decisions carry upstream when ``mode = "none"`` (the demo's operator)."""
    clients: tuple[ClientConfig, ...] = ()


@dataclass(frozen=True, slots=True)
class CacheConfig:
    max_entries: int = DEFAULT_CACHE_ENTRIES
    terminal_ttl_s: float = DEFAULT_TERMINAL_TTL_S
    active_ttl_s: float = DEFAULT_ACTIVE_TTL_S


@dataclass(frozen=True, slots=True)
class LimitsConfig:
    """Bounds on one GraphQL document; every refusal names the limit (docs/configuration.md)."""

    max_depth: int = 12
    max_aliases: int = 30
    max_tokens: int = 2_000
    max_document_bytes: int = 20_000
    max_ids: int = 100
    max_cost: int = 5_000
    """Upper bound on the estimated upstream work of one operation (list fields multiply)."""
    max_upstream_calls: int = 1_000
    """Upstream calls one operation may cause: estimated before it runs, counted while it runs."""
    max_introspection_fields: int = 3
    """``__schema`` and ``__type`` selections in one document."""
    parser_cache_size: int = 512
    validation_cache_size: int = 512


@dataclass(frozen=True, slots=True)
class RateLimitConfig:
    """A token bucket per client (per remote address when auth is off); 0 disables."""

    requests_per_s: float = 0.0
    burst: int = 50


@dataclass(frozen=True, slots=True)
class LoggingConfig:
    level: str = "info"
    format: str = "auto"
    """``auto``: human-readable on a terminal, JSON lines otherwise."""


@dataclass(frozen=True, slots=True)
class TracingConfig:
    """OpenTelemetry spans; needs the ``tracing`` extra installed."""

    enabled: bool = False
    service_name: str = "execution-gateway"
    otlp_endpoint: str | None = None


@dataclass(frozen=True, slots=True)
class AuditConfig:
    file: str | None = None
    """Append one JSON line per decision attempt to this file (the log gets them regardless)."""


@dataclass(frozen=True, slots=True)
class SourceConfig:
    name: str
    kind: SourceKind
    base_url: str
    credentials: Credentials = field(repr=False)
    timeout_s: float = DEFAULT_TIMEOUT_S
    connect_timeout_s: float = DEFAULT_CONNECT_TIMEOUT_S
    max_concurrency: int = DEFAULT_MAX_CONCURRENCY
    retries: int = DEFAULT_RETRIES
    cache_ttl_s: float | None = None
    """Overrides the cache TTL for this source's executions, whatever their status (0 disables)."""
    breaker_failures: int = DEFAULT_BREAKER_FAILURES
    """Consecutive failed calls that open the circuit breaker (0 disables the breaker)."""
    breaker_cooldown_s: float = DEFAULT_BREAKER_COOLDOWN_S
    """How long an open breaker fails fast before letting one probe call through."""
    step_kinds_from_workflow: bool = False
    """Rotavision only: read step kinds from the workflow definition (one cached call per workflow)."""


@dataclass(frozen=True, slots=True)
class GatewayConfig:
    server: ServerConfig = field(default_factory=ServerConfig)
    auth: AuthConfig = field(default_factory=AuthConfig)
    cache: CacheConfig = field(default_factory=CacheConfig)
    limits: LimitsConfig = field(default_factory=LimitsConfig)
    rate_limit: RateLimitConfig = field(default_factory=RateLimitConfig)
    logging: LoggingConfig = field(default_factory=LoggingConfig)
    tracing: TracingConfig = field(default_factory=TracingConfig)
    audit: AuditConfig = field(default_factory=AuditConfig)
    sources: tuple[SourceConfig, ...] = ()

    def source(self, name: str) -> SourceConfig | None:
        return next((s for s in self.sources if s.name == name), None)


_SERVER_KEYS = {
    "host": str,
    "port": int,
    "graphiql": bool,
    "introspection": bool,
    "request_deadline_s": float,
    "max_body_bytes": int,
    "cors_origins": list,
    "metrics": str,
    "metrics_port": int,
    "shutdown_timeout_s": float,
    "upstream_client": str,
    "cursor_secret_env": str,
    "fast_paths": bool,
}
_LIMITS_KEYS = {
    "max_depth": int,
    "max_aliases": int,
    "max_tokens": int,
    "max_document_bytes": int,
    "max_ids": int,
    "max_cost": int,
    "max_upstream_calls": int,
    "max_introspection_fields": int,
    "parser_cache_size": int,
    "validation_cache_size": int,
}
_RATE_LIMIT_KEYS = {"requests_per_s": float, "burst": int}
_LOGGING_KEYS = {"level": str, "format": str}
_TRACING_KEYS = {"enabled": bool, "service_name": str, "otlp_endpoint": str}
_AUDIT_KEYS = {"file": str}
_CACHE_KEYS = {"max_entries": int, "terminal_ttl_s": float, "active_ttl_s": float}
_AUTH_KEYS = {
    "mode": str,
    "allow_none_on_public_host": bool,
    "anonymous_reviewer_id": str,
    "clients": list,
}
_CLIENT_KEYS = {"name": str, "key_env": str, "roles": list, "reviewer_id": str}
_SOURCE_KEYS = {
    "name": str,
    "kind": str,
    "base_url": str,
    "api_key_env": str,
    "auth_token_env": str,
    "tenant_id": str,
    "tenant_id_env": str,
    "timeout_s": float,
    "connect_timeout_s": float,
    "max_concurrency": int,
    "retries": int,
    "cache_ttl_s": float,
    "breaker_failures": int,
    "breaker_cooldown_s": float,
    "step_kinds_from_workflow": bool,
}
_SECTIONS: dict[str, type] = {
    "server": dict,
    "auth": dict,
    "cache": dict,
    "limits": dict,
    "rate_limit": dict,
    "logging": dict,
    "tracing": dict,
    "audit": dict,
    "sources": list,
}
# Which secrets each kind needs: config key → what it is for.
_REQUIRED_SECRETS: dict[SourceKind, tuple[str, ...]] = {
    SourceKind.ROTAVISION: ("api_key_env",),
    SourceKind.VELT: ("api_key_env", "auth_token_env"),
    SourceKind.NESTING: ("api_key_env",),
    SourceKind.TRUTHLOCKS: ("api_key_env",),
}


def load_config(path: Path, env: Mapping[str, str] | None = None) -> GatewayConfig:
    """Read, override from the environment, and validate the file at ``path``."""
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read the config file ({exc.strerror})") from None
    try:
        raw = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path}: not valid TOML ({exc})") from None
    return parse_config(raw, os.environ if env is None else env)


def parse_config(raw: dict[str, Any], env: Mapping[str, str]) -> GatewayConfig:
    """Validate an already-parsed TOML document; secrets come from ``env``."""
    raw = _apply_env_overrides(raw, env)
    _check_keys(raw, _SECTIONS, "")
    server_raw = _section(raw, "server")
    _check_keys(server_raw, _SERVER_KEYS, "server.")
    if "cors_origins" in server_raw:
        origins = server_raw["cors_origins"]
        if not all(isinstance(o, str) for o in origins):
            raise ConfigError("server.cors_origins: expected a list of origins (strings)")
        server_raw["cors_origins"] = tuple(origins)
    if "cursor_secret_env" in server_raw:
        server_raw["cursor_secret"] = _secret(
            env, server_raw["cursor_secret_env"], "server.cursor_secret_env"
        )
    server = ServerConfig(**server_raw)
    for key in ("port", "metrics_port"):
        if not 0 <= getattr(server, key) <= 65535:
            raise ConfigError(f"server.{key}: {getattr(server, key)} is not a TCP port (0..65535)")
    if server.metrics not in METRICS_MODES:
        raise ConfigError(
            f"server.metrics: '{server.metrics}' is not one of {', '.join(METRICS_MODES)}"
        )
    if server.upstream_client not in UPSTREAM_CLIENTS:
        raise ConfigError(
            f"server.upstream_client: '{server.upstream_client}' is not one of {', '.join(UPSTREAM_CLIENTS)}"
        )
    for key in ("request_deadline_s", "max_body_bytes", "shutdown_timeout_s"):
        if getattr(server, key) <= 0:
            raise ConfigError(f"server.{key}: must be positive")

    limits_raw = _section(raw, "limits")
    _check_keys(limits_raw, _LIMITS_KEYS, "limits.")
    for key, value in limits_raw.items():
        if value < 1:
            raise ConfigError(f"limits.{key}: must be at least 1")
    limits = LimitsConfig(**limits_raw)

    rate_raw = _section(raw, "rate_limit")
    _check_keys(rate_raw, _RATE_LIMIT_KEYS, "rate_limit.")
    rate_limit = RateLimitConfig(**rate_raw)
    if rate_limit.requests_per_s < 0 or rate_limit.burst < 1:
        raise ConfigError("rate_limit: requests_per_s must be >= 0 and burst >= 1")

    logging_raw = _section(raw, "logging")
    _check_keys(logging_raw, _LOGGING_KEYS, "logging.")
    logging_config = LoggingConfig(**logging_raw)
    if logging_config.format not in LOG_FORMATS:
        raise ConfigError(
            f"logging.format: '{logging_config.format}' is not one of {', '.join(LOG_FORMATS)}"
        )
    if logging_config.level.lower() not in ("debug", "info", "warning", "error"):
        raise ConfigError(
            f"logging.level: '{logging_config.level}' is not debug, info, warning or error"
        )

    tracing_raw = _section(raw, "tracing")
    _check_keys(tracing_raw, _TRACING_KEYS, "tracing.")
    tracing = TracingConfig(**tracing_raw)

    audit_raw = _section(raw, "audit")
    _check_keys(audit_raw, _AUDIT_KEYS, "audit.")
    audit = AuditConfig(**audit_raw)

    cache_raw = _section(raw, "cache")
    _check_keys(cache_raw, _CACHE_KEYS, "cache.")
    cache = CacheConfig(**cache_raw)
    for key in ("max_entries", "terminal_ttl_s", "active_ttl_s"):
        if getattr(cache, key) < 0:
            raise ConfigError(f"cache.{key}: must not be negative")

    auth = _parse_auth(_section(raw, "auth"), env)
    sources_raw = raw.get("sources", [])
    sources = tuple(_parse_source(i, s, env) for i, s in enumerate(sources_raw))
    seen: set[str] = set()
    for index, source in enumerate(sources):
        if source.name in seen:
            raise ConfigError(
                f"sources[{index}].name: '{source.name}' is used twice; names must be unique"
            )
        seen.add(source.name)
    if not sources:
        raise ConfigError("sources: at least one [[sources]] entry is needed")
    return GatewayConfig(
        server=server,
        auth=auth,
        cache=cache,
        limits=limits,
        rate_limit=rate_limit,
        logging=logging_config,
        tracing=tracing,
        audit=audit,
        sources=sources,
    )


def _section(raw: dict[str, Any], name: str) -> dict[str, Any]:
    value = raw.get(name, {})
    return dict(value)


def _check_keys(table: dict[str, Any], known: Mapping[str, type], prefix: str) -> None:
    for key, value in table.items():
        if key not in known:
            close = difflib.get_close_matches(key, list(known), n=1)
            hint = (
                f" (did you mean '{close[0]}'?)"
                if close
                else f" (known keys: {', '.join(sorted(known))})"
            )
            raise ConfigError(f"{prefix}{key}: unknown key{hint}")
        expected = known[key]
        ok = isinstance(value, expected) and not (expected is not bool and isinstance(value, bool))
        if expected is float:
            ok = isinstance(value, int | float) and not isinstance(value, bool)
        if not ok:
            raise ConfigError(
                f"{prefix}{key}: expected {_type_word(expected)}, got {_type_word(type(value))} {value!r}"
            )


def _type_word(kind: type) -> str:
    return {
        str: "a string",
        int: "an integer",
        float: "a number",
        bool: "true or false",
        list: "a list",
        dict: "a table",
    }.get(kind, kind.__name__)


def _parse_auth(raw: dict[str, Any], env: Mapping[str, str]) -> AuthConfig:
    _check_keys(raw, _AUTH_KEYS, "auth.")
    mode = raw.get("mode", "none")
    if mode not in AUTH_MODES:
        raise ConfigError(f"auth.mode: '{mode}' is not one of {', '.join(AUTH_MODES)}")
    clients = []
    for index, client_raw in enumerate(raw.get("clients", [])):
        where = f"auth.clients[{index}]."
        if not isinstance(client_raw, dict):
            raise ConfigError(f"auth.clients[{index}]: expected a table")
        _check_keys(client_raw, _CLIENT_KEYS, where)
        for required in ("name", "key_env", "roles"):
            if required not in client_raw:
                raise ConfigError(f"{where}{required}: missing (required)")
        roles = frozenset(client_raw["roles"])
        unknown = roles - ROLES
        if unknown or not roles:
            raise ConfigError(f"{where}roles: must be a non-empty subset of {sorted(ROLES)}")
        key = _secret(env, client_raw["key_env"], f"{where}key_env")
        clients.append(
            ClientConfig(
                name=client_raw["name"],
                key_env=client_raw["key_env"],
                roles=roles,
                reviewer_id=client_raw.get("reviewer_id"),
                key=key,
            )
        )
    if mode == "api_key" and not clients:
        raise ConfigError('auth.clients: auth.mode = "api_key" needs at least one [[auth.clients]]')
    names = [c.name for c in clients]
    if len(set(names)) != len(names):
        raise ConfigError("auth.clients: client names must be unique")
    keys = [c.key for c in clients]
    if len(set(keys)) != len(keys):
        raise ConfigError("auth.clients: two clients share one key; give each its own")
    return AuthConfig(
        mode=mode,
        allow_none_on_public_host=raw.get("allow_none_on_public_host", False),
        anonymous_reviewer_id=raw.get("anonymous_reviewer_id"),
        clients=tuple(clients),
    )


def _parse_source(index: int, raw: Any, env: Mapping[str, str]) -> SourceConfig:
    where = f"sources[{index}]."
    if not isinstance(raw, dict):
        raise ConfigError(f"sources[{index}]: expected a table ([[sources]])")
    _check_keys(raw, _SOURCE_KEYS, where)
    for required in ("name", "kind", "base_url"):
        if required not in raw:
            raise ConfigError(f"{where}{required}: missing (required)")
    name = raw["name"]
    if not SOURCE_NAME.match(name):
        raise ConfigError(
            f"{where}name: '{name}' must match [a-z0-9-]{{1,32}} (it prefixes global ids)"
        )
    try:
        kind = SourceKind(raw["kind"])
    except ValueError:
        kinds = ", ".join(k.value for k in SourceKind)
        raise ConfigError(f"{where}kind: '{raw['kind']}' is not one of {kinds}") from None
    base_url = raw["base_url"]
    if not re.match(r"^https?://[^\s/]+", base_url):
        raise ConfigError(f"{where}base_url: '{base_url}' must be an http(s) URL")
    for required in _REQUIRED_SECRETS[kind]:
        if required not in raw:
            raise ConfigError(f"{where}{required}: missing (a '{kind.value}' source needs it)")
    tenant_id = raw.get("tenant_id")
    if "tenant_id_env" in raw:
        tenant_id = _secret(env, raw["tenant_id_env"], f"{where}tenant_id_env")
    if kind is SourceKind.TRUTHLOCKS and not tenant_id:
        raise ConfigError(f"{where}tenant_id: missing (a 'truthlocks' source needs it)")
    credentials = Credentials(
        api_key=_secret(env, raw["api_key_env"], f"{where}api_key_env")
        if "api_key_env" in raw
        else None,
        auth_token=(
            _secret(env, raw["auth_token_env"], f"{where}auth_token_env")
            if "auth_token_env" in raw
            else None
        ),
        tenant_id=tenant_id,
    )
    limits: dict[str, Any] = {}
    for key in (
        "timeout_s",
        "connect_timeout_s",
        "max_concurrency",
        "retries",
        "cache_ttl_s",
        "breaker_failures",
        "breaker_cooldown_s",
    ):
        if key in raw:
            value = raw[key]
            positive = key in (
                "timeout_s",
                "connect_timeout_s",
                "max_concurrency",
                "breaker_cooldown_s",
            )
            if (positive and value <= 0) or value < 0:
                raise ConfigError(
                    f"{where}{key}: must be {'positive' if positive else 'zero or more'}"
                )
            limits[key] = float(value) if key.endswith("_s") else value
    step_kinds = raw.get("step_kinds_from_workflow", False)
    if step_kinds and kind is not SourceKind.ROTAVISION:
        raise ConfigError(f"{where}step_kinds_from_workflow: only 'rotavision' sources have it")
    return SourceConfig(
        name=name,
        kind=kind,
        base_url=base_url,
        credentials=credentials,
        step_kinds_from_workflow=step_kinds,
        **limits,
    )


def _secret(env: Mapping[str, str], variable: str, where: str) -> str:
    value = env.get(variable)
    if not value:
        raise ConfigError(
            f"{where}: environment variable {variable} is not set (it holds the secret)"
        )
    return value


def _apply_env_overrides(raw: dict[str, Any], env: Mapping[str, str]) -> dict[str, Any]:
    result = {k: (dict(v) if isinstance(v, dict) else v) for k, v in raw.items()}
    sources = [dict(s) if isinstance(s, dict) else s for s in result.get("sources", [])]
    if sources:
        result["sources"] = sources
    for variable, text in env.items():
        if not variable.startswith(ENV_PREFIX):
            continue
        path = variable[len(ENV_PREFIX) :].lower().split("__")
        value = _literal(text)
        if len(path) == 2 and path[0] in _SECTIONS and path[0] != "sources":
            section = result.setdefault(path[0], {})
            if isinstance(section, dict):
                section[path[1]] = value
        elif len(path) == 3 and path[0] == "sources":
            for source in sources:
                if (
                    isinstance(source, dict)
                    and str(source.get("name", "")).replace("-", "_") == path[1]
                ):
                    source[path[2]] = value
                    break
            else:
                raise ConfigError(f"{variable}: no source named '{path[1]}' to override")
        else:
            raise ConfigError(
                f"{variable}: not an override this gateway knows "
                "(GATEWAY__<SECTION>__<KEY> or GATEWAY__SOURCES__<NAME>__<KEY>)"
            )
    return result


def _literal(text: str) -> Any:
    try:
        return tomllib.loads(f"v = {text}")["v"]
    except tomllib.TOMLDecodeError:
        return text
