"""The gateway's TOML configuration: parsed, validated, secrets read from the environment.

A bad file gets one message per problem, each naming the key (``source "rv": kind: …``), all of them
in one run, and ``gateway`` exits non-zero.
Any scalar can be overridden by the environment: ``GATEWAY__SERVER__PORT=9000``, or for a source
``GATEWAY__SOURCES__<NAME>__BASE_URL=…`` (name upper-cased, ``-`` as ``_``). Values are read as TOML
literals when they parse as one (``9000``, ``true``), else as strings.
"""

from __future__ import annotations

import base64
import binascii
import difflib
import ipaddress
import os
import re
import ssl
import tomllib
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from adapters.base import Credentials
from adapters.engine import HTTPSettings
from adapters.langgraph import RESUME_FORMATS
from adapters.model import SourceKind
from adapters.transports import UPSTREAM_CLIENTS, TransportOptions

if TYPE_CHECKING:
    from collections.abc import Iterator, Mapping

__all__ = [
    "DEFAULT_ACTIVE_TTL_S",
    "DEFAULT_CACHE_ENTRIES",
    "DEFAULT_MAX_BODY_BYTES",
    "DEFAULT_RATE_LIMIT_BURST",
    "DEFAULT_RATE_LIMIT_PER_S",
    "DEFAULT_TERMINAL_TTL_S",
    "PERSISTED_QUERY_MODES",
    "AuditConfig",
    "AuthConfig",
    "CacheConfig",
    "ClientConfig",
    "ConfigError",
    "GatewayConfig",
    "LimitsConfig",
    "LiveConfig",
    "LoggingConfig",
    "NotificationTarget",
    "RateLimitConfig",
    "ServerConfig",
    "SourceConfig",
    "StateConfig",
    "TracingConfig",
    "load_config",
    "parse_config",
]

DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 8000
DEFAULT_CACHE_ENTRIES = 10_000
DEFAULT_TERMINAL_TTL_S = 300.0
DEFAULT_ACTIVE_TTL_S = 2.0
DEFAULT_ANSWERS_MAX_ENTRIES = 5_000
DEFAULT_ANSWERS_MAX_BYTES = 64 * 1024 * 1024
DEFAULT_PERSISTED_QUERIES_MAX = 2_000
PERSISTED_QUERY_MODES = ("off", "apq", "trusted")
DEFAULT_RETRIES = 2
DEFAULT_REQUEST_DEADLINE_S = 15.0
DEFAULT_MAX_BODY_BYTES = 1_000_000
DEFAULT_SHUTDOWN_TIMEOUT_S = 10.0
DEFAULT_RATE_LIMIT_PER_S = 100.0
DEFAULT_RATE_LIMIT_BURST = 200
DEFAULT_BREAKER_FAILURES = 5
DEFAULT_BREAKER_COOLDOWN_S = 10.0
METRICS_MODES = ("off", "open", "port")
LOG_FORMATS = ("auto", "json", "text")
ENV_PREFIX = "GATEWAY__"
SOURCE_NAME = re.compile(r"^[a-z0-9-]{1,32}$")
ROLES = frozenset({"viewer", "approver", "operator"})
AUTH_MODES = ("none", "api_key")


class ConfigError(Exception):
    """Configuration problems, each worded for the person who edits the file; one per line."""

    def __init__(self, *problems: str) -> None:
        self.problems = problems
        super().__init__("\n".join(problems))


class _Problems:
    """Collects every problem of one file, so a single run reports them all."""

    def __init__(self) -> None:
        self.found: list[str] = []

    def add(self, problem: str) -> None:
        self.found.append(problem)

    @contextmanager
    def check(self) -> Iterator[None]:
        """Record a ``ConfigError`` raised inside (a part that cannot go on) and carry on."""
        try:
            yield
        except ConfigError as exc:
            self.found.extend(exc.problems)


@dataclass(frozen=True, slots=True)
class ServerConfig:
    host: str = DEFAULT_HOST
    port: int = DEFAULT_PORT
    graphiql: bool = True
    introspection: bool = True
    request_deadline_s: float = DEFAULT_REQUEST_DEADLINE_S
    """No GraphQL request runs longer: upstream calls get what is left of it, then time out."""
    max_body_bytes: int = DEFAULT_MAX_BODY_BYTES
    max_websocket_message_bytes: int = 262_144
    """A larger WebSocket message closes the socket (1009) before it is read whole."""
    cors_origins: tuple[str, ...] = ()
    metrics: str = "open"
    """``off``: no /metrics; ``open``: /metrics on the main port; ``port``: on ``metrics_port`` only."""
    metrics_port: int = 9464
    shutdown_timeout_s: float = DEFAULT_SHUTDOWN_TIMEOUT_S
    cursor_secret_env: str | None = None
    """Names the variable holding the key that signs cursors; replicas must share it."""
    cursor_secret: str | None = field(default=None, repr=False)
    max_header_bytes: int = 16_384
    """The most bytes of request line and headers; past it 400 and the connection is closed."""
    max_headers: int = 100
    """The most header lines in one request; past it 431."""
    header_timeout_s: float = 10.0
    """From a request's first byte to its last header; past it 408 and the connection is closed."""
    body_timeout_s: float = 30.0
    """From a request's last header to its last body byte; past it the connection is closed."""
    keep_alive_timeout_s: float = 5.0
    """How long a connection may sit idle, before its first request or between two."""
    max_connections: int = 1_000
    """Connections open at once (per process); past it a new one gets 503 and is closed."""
    http_parser: str = "httptools"
    """``httptools`` (llhttp, the faster) or ``h11`` (pure Python): both bounded the same way."""
    fast_paths: bool = True
    """The schema's speed work (docs/performance.md); false leaves stock strawberry execution."""
    federation: bool = False
    """Serve the schema as an Apollo Federation v2 subgraph (docs/federation.md)."""
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
    scope: tuple[tuple[str, tuple[str, ...] | None], ...] | None = None
    """What the client may read: (source, partitions or None for every one); None: everything
    (docs/scope.md)."""


@dataclass(frozen=True, slots=True)
class AuthConfig:
    mode: str = "none"
    allow_none_on_public_host: bool = False
    anonymous_reviewer_id: str | None = None
    """The reviewer id decisions carry upstream when ``mode = "none"`` (the demo's operator)."""
    clients: tuple[ClientConfig, ...] = ()
    four_eyes: bool = False
    """A client may not decide an approval of a run it started through the gateway."""


@dataclass(frozen=True, slots=True)
class CacheConfig:
    max_entries: int = DEFAULT_CACHE_ENTRIES
    terminal_ttl_s: float = DEFAULT_TERMINAL_TTL_S
    active_ttl_s: float = DEFAULT_ACTIVE_TTL_S
    answers_max_entries: int = DEFAULT_ANSWERS_MAX_ENTRIES
    """Whole answers kept (docs/caching.md); 0 turns the response cache off."""
    answers_max_bytes: int = DEFAULT_ANSWERS_MAX_BYTES
    persisted_queries: str = "apq"
    """``off``, ``apq`` (Automatic Persisted Queries) or ``trusted`` (only the allow-list runs)."""
    persisted_queries_max: int = DEFAULT_PERSISTED_QUERIES_MAX
    trusted_documents: str | None = None
    """For ``trusted``: a JSON manifest of sha256 -> document."""


@dataclass(frozen=True, slots=True)
class LimitsConfig:
    """Bounds on one GraphQL document; every refusal names the limit (docs/configuration.md)."""

    max_depth: int = 12
    max_aliases: int = 30
    max_tokens: int = 2_000
    max_document_bytes: int = 20_000
    max_ids: int = 100
    max_decisions: int = 50
    """Decisions one ``decideMany`` may carry."""
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
    """A token bucket per client (per remote address when auth is off); on unless set to 0."""

    requests_per_s: float = DEFAULT_RATE_LIMIT_PER_S
    burst: int = DEFAULT_RATE_LIMIT_BURST


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
class StateConfig:
    """Where what replicas share lives (docs/deployment.md, "Several replicas")."""

    backend: str = "memory"
    redis_url_env: str | None = None
    """The environment variable holding the Redis URL (``redis://``, ``rediss://`` for TLS; a
    password goes in the URL, so the URL is a secret)."""
    redis_url: str | None = field(default=None, repr=False)
    key_prefix: str = "gateway:"
    timeout_s: float = 1.0
    """Per Redis operation; past it the operation counts as Redis being away."""


@dataclass(frozen=True, slots=True)
class AuditConfig:
    file: str | None = None
    """Append one JSON line per decision attempt to this file (the log gets them regardless)."""


@dataclass(frozen=True, slots=True)
class LiveConfig:
    """Webhooks in, subscriptions out (docs/live.md): the bounds that keep them cheap."""

    max_subscriptions: int = 10_000
    """Open subscriptions across all clients; one more is refused (BAD_USER_INPUT)."""
    max_subscriptions_per_client: int = 100
    subscriber_queue: int = 64
    """Changes buffered per subscriber; one that falls further behind is dropped (slow consumer)."""
    keepalive_s: float = 15.0
    """Server pings on WebSockets and heartbeats on HTTP streams, so idle proxies keep them open."""
    webhook_max_body_bytes: int = 262_144
    dedupe_ttl_s: float = 172_800.0
    """How long a webhook's event id is remembered: longer than Rotavision's ~35 h of retries."""
    dedupe_max_entries: int = 100_000
    max_poll_backoff_s: float = 300.0
    """The longest wait between polls of a source that keeps failing."""
    resume_max_entries: int = 10_000
    """Changes kept per resumable topic (executionChanges, approvalRequested) for ``after``."""
    resume_max_age_s: float = 3600.0
    """How long a change stays resumable; an older position answers RESUME_TOO_OLD."""


@dataclass(frozen=True, slots=True)
class SourceConfig:
    name: str
    kind: SourceKind
    base_url: str
    credentials: Credentials = field(repr=False)
    http: HTTPSettings = field(default_factory=HTTPSettings)
    """The engine's settings (timeouts, concurrency, retries, breaker, proxy, TLS): their
    defaults are the engine's own, defined once in ``adapters.engine`` and ``adapters.transports``."""
    cache_ttl_s: float | None = None
    """Overrides the cache TTL for this source's executions, whatever their status (0 disables)."""
    step_kinds_from_workflow: bool = False
    """Rotavision only: read step kinds from the workflow definition (one cached call per workflow)."""
    deadlines_from_definition: bool = False
    """Velt only: approvals' ``dueAt`` from the definition's ``slaMs`` (one cached
    ``definitions/get`` per definition, a call the gate's estimates do not count)."""
    webhook_secrets: tuple[str, ...] = field(default=(), repr=False)
    """The signing secrets webhooks of this source may use (current, then previous); none: no
    webhook route, and live updates poll (docs/live.md)."""
    poll_interval_s: float = 5.0
    """How often a watched execution (or the pending list) is re-read where no webhook tells."""
    list_order: str | None = None
    """Nesting only: the order its list pages come in (``desc``, ``asc``, or ``auto``: told from
    the first page's start times). The documents do not say; the feed is newest first either way."""
    resume_format: str | None = None
    """LangGraph only: what a decision resumes the graph with (``word``: ``"approve"``/``"reject"``;
    ``object``: ``{"decision", "notes", "reviewer"}``)."""


NOTIFICATION_EVENTS = (
    "approval.requested",
    "approval.resolved",
    "execution.failed",
    "execution.completed",
)
NOTIFICATION_FORMATS = ("standard", "slack")


@dataclass(frozen=True, slots=True)
class NotificationTarget:
    """One receiver of outbound notifications (docs/live.md, "Notifications"): where, signed with
    what, for which events of which sources."""

    name: str
    """Names the target in metrics, logs and the claim keys replicas share."""
    url: str
    secret: str = field(repr=False)
    """The Standard Webhooks secret (``whsec_`` + base64 of 24 to 64 bytes)."""
    events: frozenset[str]
    sources: frozenset[str] | None = None
    """Only these sources' events; None: every source."""
    scope: tuple[tuple[str, tuple[str, ...] | None], ...] | None = None
    """Only events a client with this scope would see (docs/scope.md); None: no such filter."""
    format: str = "standard"
    """``standard`` (``{"type", "timestamp", "data"}``) or ``slack`` (``{"text"}``); both signed."""
    timeout_s: float = 5.0
    """One attempt's limit, connect to last byte."""
    max_attempts: int = 6
    backoff_s: float = 2.0
    """The wait before the first retry; it doubles each time (at most 5 minutes)."""


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
    state: StateConfig = field(default_factory=StateConfig)
    live: LiveConfig = field(default_factory=LiveConfig)
    sources: tuple[SourceConfig, ...] = ()
    notifications: tuple[NotificationTarget, ...] = ()

    def source(self, name: str) -> SourceConfig | None:
        return next((s for s in self.sources if s.name == name), None)


_SERVER_KEYS = {
    "host": str,
    "port": int,
    "graphiql": bool,
    "introspection": bool,
    "request_deadline_s": float,
    "max_body_bytes": int,
    "max_websocket_message_bytes": int,
    "cors_origins": list,
    "metrics": str,
    "metrics_port": int,
    "shutdown_timeout_s": float,
    "max_header_bytes": int,
    "max_headers": int,
    "header_timeout_s": float,
    "body_timeout_s": float,
    "keep_alive_timeout_s": float,
    "max_connections": int,
    "http_parser": str,
    "upstream_client": str,
    "cursor_secret_env": str,
    "fast_paths": bool,
    "federation": bool,
}
_LIMITS_KEYS = {
    "max_depth": int,
    "max_aliases": int,
    "max_tokens": int,
    "max_document_bytes": int,
    "max_ids": int,
    "max_decisions": int,
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
_STATE_KEYS = {"backend": str, "redis_url_env": str, "key_prefix": str, "timeout_s": float}
STATE_BACKENDS = ("memory", "redis")
LIST_ORDERS = ("desc", "asc", "auto")
_CACHE_KEYS = {
    "max_entries": int,
    "terminal_ttl_s": float,
    "active_ttl_s": float,
    "answers_max_entries": int,
    "answers_max_bytes": int,
    "persisted_queries": str,
    "persisted_queries_max": int,
    "trusted_documents": str,
}
_LIVE_KEYS = {
    "max_subscriptions": int,
    "max_subscriptions_per_client": int,
    "subscriber_queue": int,
    "keepalive_s": float,
    "webhook_max_body_bytes": int,
    "dedupe_ttl_s": float,
    "dedupe_max_entries": int,
    "max_poll_backoff_s": float,
    "resume_max_entries": int,
    "resume_max_age_s": float,
}
_AUTH_KEYS = {
    "mode": str,
    "allow_none_on_public_host": bool,
    "anonymous_reviewer_id": str,
    "clients": list,
    "four_eyes": bool,
}
_CLIENT_KEYS = {"name": str, "key_env": str, "roles": list, "reviewer_id": str, "scope": dict}
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
    "deadlines_from_definition": bool,
    "resume_format": str,
    "proxy_url": str,
    "trust_env": bool,
    "ca_bundle": str,
    "client_cert": str,
    "client_key": str,
    "verify": bool,
    "webhook_secret_env": str,
    "webhook_secret_previous_env": str,
    "poll_interval_s": float,
    "list_order": str,
}
_NOTIFICATION_KEYS = {
    "name": str,
    "url": str,
    "secret_env": str,
    "events": list,
    "sources": list,
    "format": str,
    "timeout_s": float,
    "max_attempts": int,
    "backoff_s": float,
    "scope": dict,
}
_ENGINE_KEYS = (
    "timeout_s",
    "connect_timeout_s",
    "max_concurrency",
    "retries",
    "breaker_failures",
    "breaker_cooldown_s",
)
_POSITIVE_KEYS = frozenset(
    {"timeout_s", "connect_timeout_s", "max_concurrency", "breaker_cooldown_s"}
)
_TRANSPORT_KEYS = ("proxy_url", "trust_env", "ca_bundle", "client_cert", "client_key", "verify")
_FILE_KEYS = ("ca_bundle", "client_cert", "client_key")
_SECTIONS: dict[str, type] = {
    "server": dict,
    "auth": dict,
    "cache": dict,
    "limits": dict,
    "rate_limit": dict,
    "logging": dict,
    "tracing": dict,
    "audit": dict,
    "state": dict,
    "live": dict,
    "sources": list,
    "notifications": list,
}
# Which secrets each kind needs: config key → what it is for.
_REQUIRED_SECRETS: dict[SourceKind, tuple[str, ...]] = {
    SourceKind.ROTAVISION: ("api_key_env",),
    SourceKind.VELT: ("api_key_env", "auth_token_env"),
    SourceKind.NESTING: ("api_key_env",),
    SourceKind.TRUTHLOCKS: ("api_key_env",),
    SourceKind.LANGGRAPH: (),  # a deployment's x-api-key is optional: the dev server takes none
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
    """Validate an already-parsed TOML document; secrets come from ``env``.

    Every problem is collected before raising, so one run of ``check-config`` reports them all.
    """
    problems = _Problems()
    raw, overridden = _apply_env_overrides(raw, env, problems)
    raw = _check_keys(raw, _SECTIONS, "", problems)
    server_raw = _check_keys(_section(raw, "server"), _SERVER_KEYS, "server.", problems)
    if "cors_origins" in server_raw:
        origins = server_raw["cors_origins"]
        if not all(isinstance(o, str) for o in origins):
            problems.add("server.cors_origins: expected a list of origins (strings)")
            origins = []
        server_raw["cors_origins"] = tuple(origins)
    if "cursor_secret_env" in server_raw:
        server_raw["cursor_secret"] = _secret(
            env, server_raw["cursor_secret_env"], "server.cursor_secret_env", problems
        )
    server = ServerConfig(**server_raw)
    for key in ("port", "metrics_port"):
        if not 0 <= getattr(server, key) <= 65535:
            problems.add(f"server.{key}: {getattr(server, key)} is not a TCP port (0..65535)")
    if server.metrics not in METRICS_MODES:
        problems.add(f"server.metrics: '{server.metrics}' is not one of {', '.join(METRICS_MODES)}")
    if server.http_parser not in ("httptools", "h11"):
        problems.add(f"server.http_parser: '{server.http_parser}' is not httptools or h11")
    if server.upstream_client not in UPSTREAM_CLIENTS:
        problems.add(
            f"server.upstream_client: '{server.upstream_client}' is not one of {', '.join(UPSTREAM_CLIENTS)}"
        )
    for key in (
        "request_deadline_s",
        "max_body_bytes",
        "max_websocket_message_bytes",
        "shutdown_timeout_s",
        "max_header_bytes",
        "max_headers",
        "header_timeout_s",
        "body_timeout_s",
        "keep_alive_timeout_s",
        "max_connections",
    ):
        if getattr(server, key) <= 0:
            problems.add(f"server.{key}: must be positive")

    limits_raw = _check_keys(_section(raw, "limits"), _LIMITS_KEYS, "limits.", problems)
    for key, value in list(limits_raw.items()):
        if value < 1:
            problems.add(f"limits.{key}: must be at least 1")
            del limits_raw[key]
    limits = LimitsConfig(**limits_raw)

    rate_raw = _check_keys(_section(raw, "rate_limit"), _RATE_LIMIT_KEYS, "rate_limit.", problems)
    rate_limit = RateLimitConfig(**rate_raw)
    if rate_limit.requests_per_s < 0 or rate_limit.burst < 1:
        problems.add("rate_limit: requests_per_s must be >= 0 and burst >= 1")

    logging_raw = _check_keys(_section(raw, "logging"), _LOGGING_KEYS, "logging.", problems)
    logging_config = LoggingConfig(**logging_raw)
    if logging_config.format not in LOG_FORMATS:
        problems.add(
            f"logging.format: '{logging_config.format}' is not one of {', '.join(LOG_FORMATS)}"
        )
    if logging_config.level.lower() not in ("debug", "info", "warning", "error"):
        problems.add(
            f"logging.level: '{logging_config.level}' is not debug, info, warning or error"
        )

    tracing_raw = _check_keys(_section(raw, "tracing"), _TRACING_KEYS, "tracing.", problems)
    tracing = TracingConfig(**tracing_raw)

    audit_raw = _check_keys(_section(raw, "audit"), _AUDIT_KEYS, "audit.", problems)
    audit = AuditConfig(**audit_raw)

    cache_raw = _check_keys(_section(raw, "cache"), _CACHE_KEYS, "cache.", problems)
    cache = CacheConfig(**cache_raw)
    for key in (
        "max_entries",
        "terminal_ttl_s",
        "active_ttl_s",
        "answers_max_entries",
        "answers_max_bytes",
        "persisted_queries_max",
    ):
        if getattr(cache, key) < 0:
            problems.add(f"cache.{key}: must not be negative")
    if cache.persisted_queries not in PERSISTED_QUERY_MODES:
        problems.add(
            f"cache.persisted_queries: '{cache.persisted_queries}' is not one of "
            f"{', '.join(PERSISTED_QUERY_MODES)}"
        )
    if cache.persisted_queries == "trusted":
        if not cache.trusted_documents:
            problems.add('cache.trusted_documents: needed when persisted_queries = "trusted"')
        elif not Path(cache.trusted_documents).is_file():
            problems.add(f"cache.trusted_documents: no file at {cache.trusted_documents}")

    live_raw = _check_keys(_section(raw, "live"), _LIVE_KEYS, "live.", problems)
    for key, value in list(live_raw.items()):
        if value <= 0:
            problems.add(f"live.{key}: must be positive")
            del live_raw[key]
    for key in ("keepalive_s", "dedupe_ttl_s", "max_poll_backoff_s", "resume_max_age_s"):
        if key in live_raw:
            live_raw[key] = float(live_raw[key])
    live = LiveConfig(**live_raw)

    state = StateConfig()
    with problems.check():
        state = _parse_state(_section(raw, "state"), env, problems)
    if state.backend != "memory" and not server.cursor_secret:
        problems.add(
            "server.cursor_secret_env: replicas that share state must share the cursor secret "
            "(a cursor one replica signed must verify on the next): set it on every replica"
        )
    auth = AuthConfig()
    with problems.check():
        auth = _parse_auth(_section(raw, "auth"), env, problems)
    sources: list[SourceConfig] = []
    for index, source_raw in enumerate(raw.get("sources", [])):
        with problems.check():
            sources.append(_parse_source(index, source_raw, env, problems))
    seen: set[str] = set()
    for index, source in enumerate(sources):
        if source.name in seen:
            problems.add(
                f"{_source_where(index, None)}name: '{source.name}' is used twice; "
                "names must be unique"
            )
        seen.add(source.name)
    if not raw.get("sources"):
        problems.add("sources: at least one [[sources]] entry is needed")
    for client in auth.clients:
        for name, _ in client.scope or ():
            if name not in seen:
                problems.add(
                    f"auth.clients ({client.name}).scope: '{name}' is not a configured source"
                )
    notifications = _parse_notifications(raw.get("notifications", []), env, seen, problems)
    if problems.found:
        raise ConfigError(*(_name_the_variable(p, overridden) for p in problems.found))
    return GatewayConfig(
        server=server,
        auth=auth,
        cache=cache,
        limits=limits,
        rate_limit=rate_limit,
        logging=logging_config,
        tracing=tracing,
        audit=audit,
        state=state,
        live=live,
        sources=tuple(sources),
        notifications=notifications,
    )


def _parse_state(raw: dict[str, Any], env: Mapping[str, str], problems: _Problems) -> StateConfig:
    raw = _check_keys(raw, _STATE_KEYS, "state.", problems)
    if raw.get("backend", "memory") not in STATE_BACKENDS:
        raise ConfigError(
            f"state.backend: '{raw['backend']}' is not one of {', '.join(STATE_BACKENDS)}"
        )
    if raw.get("timeout_s", 1.0) <= 0:
        raise ConfigError("state.timeout_s: must be positive")
    if raw.get("backend") == "redis":
        variable = raw.get("redis_url_env")
        if not variable:
            raise ConfigError(
                'state.redis_url_env: needed for backend = "redis" (the variable holding the URL)'
            )
        raw["redis_url"] = _secret(env, variable, "state.redis_url_env", problems)
        if raw["redis_url"] and not raw["redis_url"].startswith(
            ("redis://", "rediss://", "unix://")
        ):
            raise ConfigError(
                f"state.redis_url_env: {variable} does not hold a redis://, rediss:// or unix:// URL"
            )
    return StateConfig(**raw)


def _name_the_variable(problem: str, overridden: Mapping[str, str]) -> str:
    """``server.port: …`` gains ``(set by GATEWAY__SERVER__PORT)`` when the environment set it."""
    variable = next((v for key, v in overridden.items() if problem.startswith(f"{key}:")), None)
    return f"{problem} (set by {variable})" if variable else problem


def _source_where(index: int, raw: Any) -> str:
    """How a problem names a source: ``source "rv": `` by its name, else by its place in the file
    (``source #2: ``, counting [[sources]] tables from 1)."""
    name = raw.get("name") if isinstance(raw, dict) else None
    return f'source "{name}": ' if isinstance(name, str) and name else f"source #{index + 1}: "


def _section(raw: dict[str, Any], name: str) -> dict[str, Any]:
    value = raw.get(name, {})
    return dict(value)


def _check_keys(
    table: dict[str, Any], known: Mapping[str, type], prefix: str, problems: _Problems
) -> dict[str, Any]:
    """The keys of ``table`` that are known and well typed; each other one is a problem."""
    valid: dict[str, Any] = {}
    for key, value in table.items():
        if key not in known:
            close = difflib.get_close_matches(key, list(known), n=1)
            hint = (
                f" (did you mean '{close[0]}'?)"
                if close
                else f" (known keys: {', '.join(sorted(known))})"
            )
            problems.add(f"{prefix}{key}: unknown key{hint}")
            continue
        expected = known[key]
        ok = isinstance(value, expected) and not (expected is not bool and isinstance(value, bool))
        if expected is float:
            ok = isinstance(value, int | float) and not isinstance(value, bool)
        if not ok:
            problems.add(
                f"{prefix}{key}: expected {_type_word(expected)}, got {_type_word(type(value))} {value!r}"
            )
            continue
        valid[key] = value
    return valid


def _type_word(kind: type) -> str:
    return {
        str: "a string",
        int: "an integer",
        float: "a number",
        bool: "true or false",
        list: "a list",
        dict: "a table",
    }.get(kind, kind.__name__)


def _parse_auth(raw: dict[str, Any], env: Mapping[str, str], problems: _Problems) -> AuthConfig:
    raw = _check_keys(raw, _AUTH_KEYS, "auth.", problems)
    mode = raw.get("mode", "none")
    if mode not in AUTH_MODES:
        problems.add(f"auth.mode: '{mode}' is not one of {', '.join(AUTH_MODES)}")
    clients = []
    for index, client_raw in enumerate(raw.get("clients", [])):
        where = f"auth.clients[{index}]."
        if not isinstance(client_raw, dict):
            problems.add(f"auth.clients[{index}]: expected a table")
            continue
        client_raw = _check_keys(client_raw, _CLIENT_KEYS, where, problems)
        missing = [r for r in ("name", "key_env", "roles") if r not in client_raw]
        for required in missing:
            problems.add(f"{where}{required}: missing (required)")
        if missing:
            continue
        roles = frozenset(client_raw["roles"])
        unknown = roles - ROLES
        if unknown or not roles:
            problems.add(f"{where}roles: must be a non-empty subset of {sorted(ROLES)}")
        key = _secret(env, client_raw["key_env"], f"{where}key_env", problems)
        clients.append(
            ClientConfig(
                name=client_raw["name"],
                key_env=client_raw["key_env"],
                roles=roles,
                reviewer_id=client_raw.get("reviewer_id"),
                key=key,
                scope=_client_scope(client_raw.get("scope"), f"{where}scope", problems),
            )
        )
    if mode == "api_key" and not clients and not raw.get("clients"):
        problems.add('auth.clients: auth.mode = "api_key" needs at least one [[auth.clients]]')
    names = [c.name for c in clients]
    if len(set(names)) != len(names):
        problems.add("auth.clients: client names must be unique")
    keys = [c.key for c in clients if c.key]
    if len(set(keys)) != len(keys):
        problems.add("auth.clients: two clients share one key; give each its own")
    return AuthConfig(
        mode=mode,
        allow_none_on_public_host=raw.get("allow_none_on_public_host", False),
        anonymous_reviewer_id=raw.get("anonymous_reviewer_id"),
        clients=tuple(clients),
        four_eyes=raw.get("four_eyes", False),
    )


def _client_scope(
    raw: dict[str, Any] | None, where: str, problems: _Problems
) -> tuple[tuple[str, tuple[str, ...] | None], ...] | None:
    """``{source = "*" | [partition, ...]}``: the sources and partitions a client may read."""
    if raw is None:
        return None
    scope: list[tuple[str, tuple[str, ...] | None]] = []
    for source, value in raw.items():
        if value == "*":
            scope.append((source, None))
        elif isinstance(value, list) and value and all(isinstance(v, str) and v for v in value):
            scope.append((source, tuple(sorted(set(value)))))
        else:
            problems.add(f'{where}.{source}: give "*" (every partition) or a list of partitions')
    return tuple(sorted(scope, key=lambda item: item[0]))


def _parse_source(
    index: int, raw: Any, env: Mapping[str, str], problems: _Problems
) -> SourceConfig:
    """One source; raises ``ConfigError`` only when it cannot be built at all (its other
    problems are added to ``problems`` first)."""
    where = _source_where(index, raw)
    if not isinstance(raw, dict):
        raise ConfigError(f"{where}expected a table ([[sources]])")
    raw = _check_keys(raw, _SOURCE_KEYS, where, problems)
    usable = True
    for required in ("name", "kind", "base_url"):
        if required not in raw:
            problems.add(f"{where}{required}: missing (required)")
            usable = False
    name = raw.get("name", "")
    if "name" in raw and not SOURCE_NAME.match(name):
        problems.add(f"{where}name: '{name}' must match [a-z0-9-]{{1,32}} (it prefixes global ids)")
    kind: SourceKind | None = None
    if "kind" in raw:
        try:
            kind = SourceKind(raw["kind"])
        except ValueError:
            kinds = ", ".join(k.value for k in SourceKind)
            problems.add(f"{where}kind: '{raw['kind']}' is not one of {kinds}")
    base_url = raw.get("base_url", "")
    if "base_url" in raw and not re.match(r"^https?://[^\s/]+", base_url):
        problems.add(f"{where}base_url: '{base_url}' must be an http(s) URL")
    for required in _REQUIRED_SECRETS[kind] if kind is not None else ():
        if required not in raw:
            problems.add(f"{where}{required}: missing (a '{raw['kind']}' source needs it)")
    tenant_id = raw.get("tenant_id")
    if "tenant_id_env" in raw:
        tenant_id = _secret(env, raw["tenant_id_env"], f"{where}tenant_id_env", problems)
    if kind is SourceKind.TRUTHLOCKS and not tenant_id and "tenant_id_env" not in raw:
        problems.add(f"{where}tenant_id: missing (a 'truthlocks' source needs it)")
    credentials = Credentials(
        api_key=_secret(env, raw["api_key_env"], f"{where}api_key_env", problems)
        if "api_key_env" in raw
        else None,
        auth_token=(
            _secret(env, raw["auth_token_env"], f"{where}auth_token_env", problems)
            if "auth_token_env" in raw
            else None
        ),
        tenant_id=tenant_id,
    )
    cache_ttl_s = raw.get("cache_ttl_s")
    if cache_ttl_s is not None:
        if cache_ttl_s < 0:
            raise ConfigError(f"{where}cache_ttl_s: must be zero or more")
        cache_ttl_s = float(cache_ttl_s)
    engine: dict[str, Any] = {}
    for key in _ENGINE_KEYS:
        if key in raw:
            value = raw[key]
            positive = key in _POSITIVE_KEYS
            if (positive and value <= 0) or value < 0:
                problems.add(f"{where}{key}: must be {'positive' if positive else 'zero or more'}")
                continue
            engine[key] = float(value) if key.endswith("_s") else value
    transport = TransportOptions()
    with problems.check():
        transport = _parse_transport(where, raw, base_url, env)
    step_kinds = raw.get("step_kinds_from_workflow", False)
    if step_kinds and kind is not None and kind is not SourceKind.ROTAVISION:
        problems.add(f"{where}step_kinds_from_workflow: only 'rotavision' sources have it")
    deadlines = raw.get("deadlines_from_definition", False)
    if "deadlines_from_definition" in raw and kind is not None and kind is not SourceKind.VELT:
        problems.add(f"{where}deadlines_from_definition: only 'velt' sources have it")
    list_order = raw.get("list_order", "auto" if kind is SourceKind.NESTING else None)
    if "list_order" in raw and kind is not SourceKind.NESTING:
        problems.add(f"{where}list_order: only 'nesting' sources have it")
    elif list_order is not None and list_order not in LIST_ORDERS:
        problems.add(f"{where}list_order: '{list_order}' is not one of {', '.join(LIST_ORDERS)}")
    resume_format = raw.get("resume_format", "word" if kind is SourceKind.LANGGRAPH else None)
    if "resume_format" in raw and kind is not SourceKind.LANGGRAPH:
        problems.add(f"{where}resume_format: only 'langgraph' sources have it")
    elif resume_format is not None and resume_format not in RESUME_FORMATS:
        problems.add(f"{where}resume_format: '{resume_format}' is not one of word, object")
    if not usable or kind is None:
        raise ConfigError()  # its problems are already in ``problems``
    return SourceConfig(
        name=name,
        kind=kind,
        base_url=base_url,
        credentials=credentials,
        http=HTTPSettings(**engine, transport=transport),
        cache_ttl_s=cache_ttl_s,
        step_kinds_from_workflow=step_kinds,
        deadlines_from_definition=deadlines,
        list_order=list_order,
        resume_format=resume_format,
        **_live_source(where, kind, raw, env, problems),
    )


def _parse_transport(
    where: str, raw: Mapping[str, Any], base_url: str, env: Mapping[str, str]
) -> TransportOptions:
    """Proxy and TLS keys, checked as far as can be without connecting: files exist and load."""
    for key in _FILE_KEYS:
        if key in raw and not os.path.isfile(raw[key]):
            raise ConfigError(f"{where}{key}: '{raw[key]}' is not a file")
    if "client_key" in raw and "client_cert" not in raw:
        raise ConfigError(f"{where}client_key: needs client_cert (the certificate it goes with)")
    options = TransportOptions(**{k: raw[k] for k in _TRANSPORT_KEYS if k in raw})
    try:
        options.proxy_for(base_url, env)
    except ValueError as exc:
        if options.proxy_url:
            raise ConfigError(f"{where}proxy_url: {exc}") from None
        raise ConfigError(
            f"{where}trust_env: the environment's proxy for this source: {exc} "
            "(fix HTTPS_PROXY/HTTP_PROXY/ALL_PROXY, or set trust_env = false)"
        ) from None
    if base_url.startswith("https:") and any(k in raw for k in _FILE_KEYS):
        try:
            options.ssl_context()
        except (OSError, ssl.SSLError) as exc:
            raise ConfigError(
                f"{where}ca_bundle/client_cert/client_key: not a usable PEM certificate or key ({exc})"
            ) from None
    return options


def _live_source(
    where: str, kind: SourceKind, raw: dict[str, Any], env: Mapping[str, str], problems: _Problems
) -> dict[str, Any]:
    """A source's webhook secrets (current, then previous) and poll interval (docs/live.md)."""
    found: dict[str, Any] = {}
    secrets = tuple(
        _secret(env, raw[key], f"{where}{key}", problems)
        for key in ("webhook_secret_env", "webhook_secret_previous_env")
        if key in raw
    )
    if secrets:
        if kind is SourceKind.NESTING:
            raise ConfigError(f"{where}webhook_secret_env: 'nesting' sources send no webhooks")
        if kind is SourceKind.LANGGRAPH:
            raise ConfigError(f"{where}webhook_secret_env: 'langgraph' webhooks are not signed")
        if "webhook_secret_env" not in raw:
            raise ConfigError(
                f"{where}webhook_secret_previous_env: needs webhook_secret_env (the current one)"
            )
        found["webhook_secrets"] = secrets
    if "poll_interval_s" in raw:
        if raw["poll_interval_s"] <= 0:
            raise ConfigError(f"{where}poll_interval_s: must be positive")
        found["poll_interval_s"] = float(raw["poll_interval_s"])
    return found


def _secret(env: Mapping[str, str], variable: str, where: str, problems: _Problems) -> str:
    """The secret ``variable`` holds; empty, with a problem added, when it is not set."""
    value = env.get(variable)
    if not value:
        problems.add(f"{where}: environment variable {variable} is not set (it holds the secret)")
        return ""
    return value


def _parse_notifications(
    raw: Any, env: Mapping[str, str], source_names: set[str], problems: _Problems
) -> tuple[NotificationTarget, ...]:
    """The ``[[notifications]]`` targets (docs/live.md, "Notifications"), every problem named."""
    if not isinstance(raw, list):
        problems.add("notifications: expected a list of tables ([[notifications]])")
        return ()
    targets: list[NotificationTarget] = []
    for index, table in enumerate(raw):
        with problems.check():
            targets.append(_parse_notification(index, table, env, source_names, problems))
    names = [target.name for target in targets]
    for name in sorted({n for n in names if n and names.count(n) > 1}):
        problems.add(f'notification "{name}": name: used twice; names must be unique')
    return tuple(targets)


def _parse_notification(
    index: int, table: Any, env: Mapping[str, str], source_names: set[str], problems: _Problems
) -> NotificationTarget:
    name = table.get("name") if isinstance(table, dict) else None
    where = (
        f'notification "{name}": '
        if isinstance(name, str) and name
        else f"notification #{index + 1}: "
    )
    if not isinstance(table, dict):
        raise ConfigError(f"{where}expected a table")
    before = len(problems.found)
    raw = _check_keys(table, _NOTIFICATION_KEYS, where, problems)
    for required in ("name", "url", "secret_env", "events"):
        if required not in raw:
            problems.add(f"{where}{required}: missing (required)")
    if "name" in raw and not SOURCE_NAME.match(raw["name"]):
        problems.add(f"{where}name: must match [a-z0-9-]{{1,32}}")
    url = raw.get("url", "")
    if url and not re.match(r"^https?://[^/\s]+", url):
        problems.add(f"{where}url: must be an http:// or https:// URL")
    events = raw.get("events", [])
    if "events" in raw and not events:
        problems.add(f"{where}events: name at least one ({', '.join(NOTIFICATION_EVENTS)})")
    for event in events:
        if event == "approval.overdue":
            problems.add(
                f"{where}events: 'approval.overdue' is not available yet: a deadline passes "
                "without a change for the gateway to publish; query Approval.overdue instead "
                '(docs/live.md, "Notifications")'
            )
        elif event not in NOTIFICATION_EVENTS:
            close = difflib.get_close_matches(str(event), NOTIFICATION_EVENTS, n=1)
            hint = f" (did you mean '{close[0]}'?)" if close else ""
            problems.add(
                f"{where}events: {event!r} is not one of {', '.join(NOTIFICATION_EVENTS)}{hint}"
            )
    sources = raw.get("sources")
    for source in sources or ():
        if source not in source_names:
            problems.add(f"{where}sources: '{source}' is not a configured source")
    scope = _client_scope(raw.get("scope"), f"{where}scope", problems)
    for source, _ in scope or ():
        if source not in source_names:
            problems.add(f"{where}scope: '{source}' is not a configured source")
    if raw.get("format", "standard") not in NOTIFICATION_FORMATS:
        problems.add(f"{where}format: '{raw['format']}' is not one of standard, slack")
    for key in ("timeout_s", "max_attempts", "backoff_s"):
        if key in raw and raw[key] <= 0:
            problems.add(f"{where}{key}: must be positive")
    secret = ""
    if "secret_env" in raw:
        secret = _secret(env, raw["secret_env"], f"{where}secret_env", problems)
        if secret and not _standard_webhooks_secret(secret):
            problems.add(
                f"{where}secret_env: {raw['secret_env']} does not hold a Standard Webhooks "
                "secret: whsec_ followed by the base64 of 24 to 64 random bytes"
            )
    if len(problems.found) > before:
        return NotificationTarget(name="", url="", secret="", events=frozenset())
    return NotificationTarget(
        name=raw["name"],
        url=url,
        secret=secret,
        events=frozenset(events),
        sources=frozenset(sources) if sources is not None else None,
        scope=scope,
        format=raw.get("format", "standard"),
        timeout_s=float(raw.get("timeout_s", 5.0)),
        max_attempts=raw.get("max_attempts", 6),
        backoff_s=float(raw.get("backoff_s", 2.0)),
    )


def _standard_webhooks_secret(secret: str) -> bool:
    """``whsec_`` and the base64 of 24 to 64 bytes, as the Standard Webhooks spec asks."""
    if not secret.startswith("whsec_"):
        return False
    try:
        key = base64.b64decode(secret.removeprefix("whsec_"), validate=True)
    except (binascii.Error, ValueError):
        return False
    return 24 <= len(key) <= 64


_SECTION_KEYS: dict[str, Mapping[str, type]] = {
    "server": _SERVER_KEYS,
    "auth": _AUTH_KEYS,
    "cache": _CACHE_KEYS,
    "limits": _LIMITS_KEYS,
    "rate_limit": _RATE_LIMIT_KEYS,
    "logging": _LOGGING_KEYS,
    "tracing": _TRACING_KEYS,
    "audit": _AUDIT_KEYS,
    "state": _STATE_KEYS,
    "live": _LIVE_KEYS,
}
"""The keys an environment override may name in each section (sources use ``_SOURCE_KEYS``)."""


def _apply_env_overrides(
    raw: dict[str, Any], env: Mapping[str, str], problems: _Problems
) -> tuple[dict[str, Any], dict[str, str]]:
    """``raw`` with the environment's overrides applied, and which variable set which key.

    A ``GATEWAY__`` variable that matches no section, source or key is a problem naming the
    variable (a typo there would otherwise be ignored silently).
    """
    result = {k: (dict(v) if isinstance(v, dict) else v) for k, v in raw.items()}
    sources = [dict(s) if isinstance(s, dict) else s for s in result.get("sources", [])]
    if sources:
        result["sources"] = sources
    overridden: dict[str, str] = {}
    for variable, text in env.items():
        if not variable.startswith(ENV_PREFIX):
            continue
        path = variable[len(ENV_PREFIX) :].lower().split("__")
        value = _literal(text)
        if len(path) == 2 and path[0] in _SECTIONS and path[0] not in ("sources", "notifications"):
            known = _SECTION_KEYS.get(path[0])
            if known is not None and path[1] not in known:
                problems.add(_unknown_override(variable, path[1], known, f"{path[0]}."))
                continue
            section = result.setdefault(path[0], {})
            if isinstance(section, dict):
                section[path[1]] = value
                overridden[f"{path[0]}.{path[1]}"] = variable
        elif len(path) == 3 and path[0] == "sources":
            if path[2] not in _SOURCE_KEYS:
                problems.add(_unknown_override(variable, path[2], _SOURCE_KEYS, "a source's "))
                continue
            for index, source in enumerate(sources):
                if (
                    isinstance(source, dict)
                    and str(source.get("name", "")).replace("-", "_") == path[1]
                ):
                    source[path[2]] = value
                    overridden[f"{_source_where(index, source)}{path[2]}"] = variable
                    break
            else:
                problems.add(f"{variable}: no source named '{path[1]}' to override")
        else:
            close = difflib.get_close_matches(path[0], list(_SECTIONS), n=1)
            hint = f"; did you mean section '{close[0]}'?" if close and path[0] != close[0] else ""
            problems.add(
                f"{variable}: not an override this gateway knows "
                f"(GATEWAY__<SECTION>__<KEY> or GATEWAY__SOURCES__<NAME>__<KEY>){hint}"
            )
    return result, overridden


def _unknown_override(variable: str, key: str, known: Mapping[str, type], where: str) -> str:
    close = difflib.get_close_matches(key, list(known), n=1)
    hint = (
        f"did you mean {variable[: -len(key)]}{close[0].upper()}?"
        if close
        else f"known keys: {', '.join(sorted(known))}"
    )
    return f"{variable}: {where}{key} is not a key ({hint})"


def _literal(text: str) -> Any:
    try:
        return tomllib.loads(f"v = {text}")["v"]
    except tomllib.TOMLDecodeError:
        return text
