"""The file's tables, one frozen pydantic dataclass each: a key's type is its check, and
docs/configuration.md says what it does. A rule spanning tables is in ``__init__.py``."""

from __future__ import annotations

import base64
import binascii
import ipaddress
import re
import typing
from typing import Annotated, Any, Literal

from pydantic import (
    AfterValidator,
    BeforeValidator,
    ConfigDict,
    Field,
    Strict,
    ValidationInfo,
    model_validator,
)
from pydantic.dataclasses import dataclass

from adapters.transports import check_client
from gateway.config.env import EnvVar, Secret, env_of, read_secrets
from gateway.config.messages import close_to, problem

__all__ = [
    "AuditConfig",
    "AuthConfig",
    "CacheConfig",
    "ClientConfig",
    "ConnectionLimits",
    "LimitsConfig",
    "LiveConfig",
    "LoggingConfig",
    "NotificationTarget",
    "RateLimitConfig",
    "Section",
    "ServerConfig",
    "StateConfig",
    "TracingConfig",
    "is_loopback",
    "matching",
]

Int = Annotated[int, Strict()]
Float = Annotated[float, Strict()]  # an integer is a number too: ``timeout_s = 2``
Str = Annotated[str, Strict()]
Bool = Annotated[bool, Strict()]
Positive = Annotated[Float, Field(gt=0)]
Count = Annotated[Int, Field(gt=0)]
AtLeastOne = Annotated[Int, Field(ge=1)]
Size = Annotated[Int, Field(ge=0)]  # 0 turns that cache off
KEYS = ConfigDict(extra="forbid")
DEFAULT_MAX_BODY_BYTES = 1_000_000
DEFAULT_ANSWERS_MAX_BYTES = 64 * 1024 * 1024
DEFAULT_RATE_LIMIT_PER_S = 100.0
DEFAULT_RATE_LIMIT_BURST = 200
PersistedQueries = Literal["off", "apq", "trusted"]
PERSISTED_QUERY_MODES: tuple[str, ...] = typing.get_args(PersistedQueries)
Event = Literal[
    "approval.requested", "approval.resolved", "execution.failed", "execution.completed"
]
NOTIFICATION_EVENTS: tuple[str, ...] = typing.get_args(Event)


def matching(pattern: str, message: str) -> AfterValidator:
    """A string that must match ``pattern``; ``message`` may show it as ``{value}``."""

    def check(value: str) -> str:
        if not re.match(pattern, value):
            raise problem(message.replace("{value}", value))
        return value

    return AfterValidator(check)


def is_loopback(host: str) -> bool:
    try:
        return host == "localhost" or ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _scope(raw: Any) -> Any:
    """``{source = "*" | [partition, ...]}`` as ((source, partitions or None for all), ...)."""
    if not isinstance(raw, dict):
        return raw
    for source, value in raw.items():
        if value != "*" and not (isinstance(value, list) and value and all(map(_name, value))):
            raise problem(f'{source}: give "*" (every partition) or a list of partitions')
    return tuple((s, None if v == "*" else tuple(sorted(set(v)))) for s, v in sorted(raw.items()))


def _name(value: object) -> bool:
    return isinstance(value, str) and bool(value)


def _port(port: int) -> int:
    if not 0 <= port <= 65535:
        raise problem(f"{port} is not a TCP port (0..65535)")
    return port


def _installed(client: str) -> str:
    """A client whose library this install lacks is a config error, not a first-call one."""
    try:
        check_client(client)
    except ValueError as exc:
        raise problem(str(exc)) from None
    return client


def _event(event: str) -> str:
    if event == "approval.overdue":
        raise problem(
            "'approval.overdue' is not available yet: a deadline passes without a change for the "
            'gateway to publish; query Approval.overdue instead (docs/live.md, "Notifications")'
        )
    if event not in NOTIFICATION_EVENTS:
        hint = close_to(event, NOTIFICATION_EVENTS, listing=False)
        raise problem(f"{event!r} is not one of {', '.join(NOTIFICATION_EVENTS)}{hint}")
    return event


def _some(events: frozenset[str]) -> frozenset[str]:
    if not events:
        raise problem(f"name at least one ({', '.join(NOTIFICATION_EVENTS)})")
    return events


def _standard_webhooks(variable: str, info: ValidationInfo) -> str:
    """``whsec_`` and the base64 of 24 to 64 bytes, as the Standard Webhooks spec asks."""
    secret = (env_of(info) or {}).get(variable, "")
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


Port = Annotated[Int, AfterValidator(_port)]
Scope = tuple[tuple[str, tuple[str, ...] | None], ...]
ScopeKey = Annotated[Scope | None, BeforeValidator(_scope)]


@dataclass(frozen=True, config=KEYS)
class Section:
    @model_validator(mode="before")
    @classmethod
    def _read_secrets(cls, data: Any, info: ValidationInfo) -> Any:
        return read_secrets(cls, data, info)


@dataclass(frozen=True, config=KEYS)
class ConnectionLimits(Section):
    """What one connection may cost before a request reaches the app (gateway/http/server.py)."""

    max_header_bytes: Count = 16_384
    max_headers: Count = 100
    header_timeout_s: Positive = 10.0
    body_timeout_s: Positive = 30.0
    keep_alive_timeout_s: Positive = 5.0
    max_connections: Count = 1_000


@dataclass(frozen=True, config=KEYS)
class ServerConfig(ConnectionLimits):
    host: Str = "127.0.0.1"
    port: Port = 8000
    graphiql: Bool = True
    introspection: Bool = True
    request_deadline_s: Positive = 15.0
    max_body_bytes: Count = DEFAULT_MAX_BODY_BYTES
    max_websocket_message_bytes: Count = 262_144
    cors_origins: tuple[Str, ...] = ()
    metrics: Literal["off", "open", "port"] = "open"
    metrics_port: Port = 9464
    shutdown_timeout_s: Positive = 10.0
    cursor_secret_env: EnvVar | None = None
    cursor_secret: Secret | None = Field(default=None, repr=False)
    http_parser: Literal["httptools", "h11"] = "httptools"
    fast_paths: Bool = True
    federation: Bool = False
    upstream_client: Annotated[Str, AfterValidator(_installed)] = "httptools"

    @property
    def is_loopback(self) -> bool:
        return is_loopback(self.host)


@dataclass(frozen=True, config=KEYS)
class ClientConfig(Section):
    name: Str
    key_env: EnvVar
    roles: Annotated[frozenset[Literal["viewer", "approver", "operator"]], Field(min_length=1)]
    reviewer_id: Str | None = None
    key: Secret = Field(default="", repr=False)
    scope: ScopeKey = None  # None: every source, every partition


@dataclass(frozen=True, config=KEYS)
class AuthConfig(Section):
    mode: Literal["none", "api_key"] = "none"
    allow_none_on_public_host: Bool = False
    anonymous_reviewer_id: Str | None = None
    clients: tuple[ClientConfig, ...] = ()
    four_eyes: Bool = False


@dataclass(frozen=True, config=KEYS)
class CacheConfig(Section):
    max_entries: Size = 10_000
    terminal_ttl_s: Annotated[Float, Field(ge=0)] = 300.0
    active_ttl_s: Annotated[Float, Field(ge=0)] = 2.0
    answers_max_entries: Size = 5_000
    answers_max_bytes: Size = DEFAULT_ANSWERS_MAX_BYTES
    persisted_queries: PersistedQueries = "apq"
    persisted_queries_max: Size = 2_000
    trusted_documents: Str | None = None


@dataclass(frozen=True, config=KEYS)
class LimitsConfig(Section):
    max_depth: AtLeastOne = 12
    max_aliases: AtLeastOne = 30
    max_tokens: AtLeastOne = 2_000
    max_document_bytes: AtLeastOne = 20_000
    max_ids: AtLeastOne = 100
    max_decisions: AtLeastOne = 50
    max_cost: AtLeastOne = 5_000
    max_upstream_calls: AtLeastOne = 1_000
    max_introspection_fields: AtLeastOne = 3
    parser_cache_size: AtLeastOne = 512
    validation_cache_size: AtLeastOne = 512


@dataclass(frozen=True, config=KEYS)
class RateLimitConfig(Section):
    requests_per_s: Annotated[Float, Field(ge=0)] = DEFAULT_RATE_LIMIT_PER_S  # 0: no limit
    burst: AtLeastOne = DEFAULT_RATE_LIMIT_BURST


@dataclass(frozen=True, config=KEYS)
class LoggingConfig(Section):
    level: Annotated[
        Literal["debug", "info", "warning", "error"],
        BeforeValidator(lambda level: level.lower() if isinstance(level, str) else level),
    ] = "info"
    format: Literal["auto", "json", "text"] = "auto"


@dataclass(frozen=True, config=KEYS)
class TracingConfig(Section):
    enabled: Bool = False
    service_name: Str = "execution-gateway"
    otlp_endpoint: Str | None = None


@dataclass(frozen=True, config=KEYS)
class AuditConfig(Section):
    file: Str | None = None


@dataclass(frozen=True, config=KEYS)
class StateConfig(Section):
    backend: Literal["memory", "redis"] = "memory"
    redis_url_env: EnvVar | None = None
    redis_url: Secret | None = Field(default=None, repr=False)
    key_prefix: Str = "gateway:"
    timeout_s: Positive = 1.0


@dataclass(frozen=True, config=KEYS)
class LiveConfig(Section):
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


@dataclass(frozen=True, config=KEYS)
class NotificationTarget(Section):
    """Where, signed with what, for which events of which sources (docs/live.md)."""

    name: Annotated[Str, matching(r"[a-z0-9-]{1,32}\Z", "must match [a-z0-9-]{1,32}")]
    url: Annotated[Str, matching(r"https?://[^/\s]+", "must be an http:// or https:// URL")]
    secret_env: Annotated[EnvVar, AfterValidator(_standard_webhooks)]
    events: Annotated[frozenset[Annotated[Str, AfterValidator(_event)]], AfterValidator(_some)]
    secret: Secret = Field(default="", repr=False)
    sources: frozenset[Str] | None = None  # None: every source
    scope: ScopeKey = None
    format: Literal["standard", "slack"] = "standard"
    timeout_s: Positive = 5.0
    max_attempts: Count = 6
    backoff_s: Positive = 2.0  # doubles with each retry, up to 5 minutes
