"""One frozen pydantic model per table, each key written once, as its field, and its bound as the
field's type; docs/configuration.md says what each key does. The validators here say what a type
cannot (a scope, an installed client, a Standard Webhooks secret)."""

from __future__ import annotations

import base64
import binascii
import typing
from typing import Annotated, Any, Literal

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    PlainValidator,
    ValidationInfo,
    model_validator,
)

from adapters.transports import check_client
from gateway.config.keys import (
    Bool,
    EnvVar,
    Float,
    Int,
    Name,
    Positive,
    Secret,
    Str,
    Url,
    problem,
    read_secrets,
)
from gateway.config.sources import SourceConfig, read_source

__all__ = [
    "PERSISTED_QUERY_MODES",
    "AuditConfig",
    "AuthConfig",
    "CacheConfig",
    "ClientConfig",
    "ConnectionLimits",
    "GatewayConfig",
    "LimitsConfig",
    "LiveConfig",
    "LoggingConfig",
    "NotificationTarget",
    "RateLimitConfig",
    "ServerConfig",
    "StateConfig",
    "TracingConfig",
]

Count = Annotated[Int, Field(gt=0)]
Size = Annotated[Int, Field(ge=0)]  # 0 turns that cache off
Port = Annotated[Int, Field(ge=0, le=65535)]
PersistedQueries = Literal["off", "apq", "trusted"]
PERSISTED_QUERY_MODES: tuple[str, ...] = typing.get_args(PersistedQueries)
Event = Literal[
    "approval.requested", "approval.resolved", "execution.failed", "execution.completed"
]


def _scope(raw: Any) -> Any:
    """``{source = "*" | [partition, ...]}`` as ((source, partitions or None for all), ...)."""
    if not isinstance(raw, dict):
        return raw
    for source, value in raw.items():
        if value != "*" and not (
            isinstance(value, list) and value and all(isinstance(p, str) and p for p in value)
        ):
            raise problem(f'{source}: give "*" (every partition) or a list of partitions')
    return tuple((s, None if v == "*" else tuple(sorted(set(v)))) for s, v in sorted(raw.items()))


def _installed(client: str) -> str:
    """A client whose library this install lacks is a config error, not a first-call one."""
    try:
        check_client(client)
    except ValueError as exc:
        raise problem(str(exc)) from None
    return client


def _published(event: Any) -> Any:
    if event == "approval.overdue":
        raise problem(
            "'approval.overdue' is not available yet: a deadline passes without a change for the "
            'gateway to publish; query Approval.overdue instead (docs/live.md, "Notifications")'
        )
    return event


def _standard_webhooks(variable: str, info: ValidationInfo) -> str:
    """``whsec_`` and the base64 of 24 to 64 bytes, as the Standard Webhooks spec asks."""
    secret = info.context["env"].get(variable, "") if info.context else ""
    try:
        size = len(base64.b64decode(secret.removeprefix("whsec_"), validate=True))
    except (binascii.Error, ValueError):
        size = 0
    if secret and not (secret.startswith("whsec_") and 24 <= size <= 64):
        raise problem(
            f"{variable} does not hold a Standard Webhooks secret: whsec_ followed by the "
            "base64 of 24 to 64 random bytes"
        )
    return variable


Scope = tuple[tuple[str, tuple[str, ...] | None], ...]
ScopeKey = Annotated[Scope | None, BeforeValidator(_scope)]


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    _read_secrets = model_validator(mode="before")(read_secrets)


class ConnectionLimits(_Section):
    """What one connection may cost before a request reaches the app (gateway/http/server.py)."""

    max_header_bytes: Count = 16_384
    max_headers: Count = 100
    header_timeout_s: Positive = 10.0
    body_timeout_s: Positive = 30.0
    keep_alive_timeout_s: Positive = 5.0
    max_connections: Count = 1_000


class ServerConfig(ConnectionLimits):
    host: Str = "127.0.0.1"
    port: Port = 8000
    graphiql: Bool = True
    introspection: Bool = True
    request_deadline_s: Positive = 15.0
    max_body_bytes: Count = 1_000_000
    max_websocket_message_bytes: Count = 262_144
    cors_origins: tuple[Str, ...] = ()
    metrics: Literal["off", "open", "port"] = "open"
    metrics_port: Port = 9464
    shutdown_timeout_s: Positive = 10.0
    cursor_secret_env: EnvVar | None = None
    cursor_secret: Secret | None = None
    http_parser: Literal["httptools", "h11"] = "httptools"
    fast_paths: Bool = True
    federation: Bool = False
    upstream_client: Annotated[Str, AfterValidator(_installed)] = "httptools"


class ClientConfig(_Section):
    name: Str
    key_env: EnvVar
    roles: Annotated[frozenset[Literal["viewer", "approver", "operator"]], Field(min_length=1)]
    reviewer_id: Str | None = None
    key: Secret = ""
    scope: ScopeKey = None  # None: every source, every partition


class AuthConfig(_Section):
    mode: Literal["none", "api_key"] = "none"
    allow_none_on_public_host: Bool = False
    anonymous_reviewer_id: Str | None = None
    clients: tuple[ClientConfig, ...] = ()
    four_eyes: Bool = False


class CacheConfig(_Section):
    max_entries: Size = 10_000
    terminal_ttl_s: Annotated[Float, Field(ge=0)] = 300.0
    active_ttl_s: Annotated[Float, Field(ge=0)] = 2.0
    answers_max_entries: Size = 5_000
    answers_max_bytes: Size = 64 * 1024 * 1024
    persisted_queries: PersistedQueries = "apq"
    persisted_queries_max: Size = 2_000
    trusted_documents: Str | None = None


class LimitsConfig(_Section):
    max_depth: Count = 12
    max_aliases: Count = 30
    max_tokens: Count = 2_000
    max_document_bytes: Count = 20_000
    max_ids: Count = 100
    max_decisions: Count = 50
    max_cost: Count = 5_000
    max_upstream_calls: Count = 1_000
    max_introspection_fields: Count = 3
    parser_cache_size: Count = 512
    validation_cache_size: Count = 512


class RateLimitConfig(_Section):
    requests_per_s: Annotated[Float, Field(ge=0)] = 100.0  # 0: no limit
    burst: Count = 200


class LoggingConfig(_Section):
    level: Annotated[
        Literal["debug", "info", "warning", "error"],
        BeforeValidator(lambda level: level.lower() if isinstance(level, str) else level),
    ] = "info"
    format: Literal["auto", "json", "text"] = "auto"


class TracingConfig(_Section):
    enabled: Bool = False
    service_name: Str = "execution-gateway"
    otlp_endpoint: Str | None = None


class AuditConfig(_Section):
    file: Str | None = None


class StateConfig(_Section):
    backend: Literal["memory", "redis"] = "memory"
    redis_url_env: EnvVar | None = None
    redis_url: Secret | None = None
    key_prefix: Str = "gateway:"
    timeout_s: Positive = 1.0


class LiveConfig(_Section):
    max_subscriptions: Count = 10_000
    max_subscriptions_per_client: Count = 100
    subscriber_queue: Count = 64
    keepalive_s: Positive = 15.0
    webhook_max_body_bytes: Count = 262_144
    dedupe_ttl_s: Positive = 172_800.0  # longer than the ~35 h a sender keeps retrying
    dedupe_max_entries: Count = 100_000
    max_poll_backoff_s: Positive = 300.0
    resume_max_entries: Count = 10_000
    resume_max_age_s: Positive = 3600.0


class NotificationTarget(_Section):
    """Where, signed with what, for which events of which sources (docs/live.md)."""

    name: Name
    url: Url
    secret_env: Annotated[EnvVar, AfterValidator(_standard_webhooks)]
    events: Annotated[frozenset[Annotated[Event, BeforeValidator(_published)]], Field(min_length=1)]
    secret: Secret = ""
    sources: frozenset[Str] | None = None  # None: every source
    scope: ScopeKey = None
    format: Literal["standard", "slack"] = "standard"
    timeout_s: Positive = 5.0
    max_attempts: Count = 6
    backoff_s: Positive = 2.0  # doubles with each retry, up to 5 minutes


class GatewayConfig(_Section):
    server: ServerConfig = ServerConfig()
    auth: AuthConfig = AuthConfig()
    cache: CacheConfig = CacheConfig()
    limits: LimitsConfig = LimitsConfig()
    rate_limit: RateLimitConfig = RateLimitConfig()
    logging: LoggingConfig = LoggingConfig()
    tracing: TracingConfig = TracingConfig()
    audit: AuditConfig = AuditConfig()
    state: StateConfig = StateConfig()
    live: LiveConfig = LiveConfig()
    sources: tuple[Annotated[SourceConfig, PlainValidator(read_source)], ...] = ()
    notifications: tuple[NotificationTarget, ...] = ()

    def source(self, name: str) -> SourceConfig | None:
        return next((s for s in self.sources if s.name == name), None)
