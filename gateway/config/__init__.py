"""The gateway's TOML configuration: parsed, validated, secrets read from the environment.

One frozen pydantic dataclass per table, each key written once, as its field. A bad file gets
one line per problem, each naming its key (``source "rv": kind: …``), all of them in one run, and
``gateway`` exits non-zero. Any scalar can be overridden by the environment (``env.py``).
"""

from __future__ import annotations

import os
import tomllib
import typing
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

from pydantic import Field, PlainValidator, TypeAdapter, ValidationError
from pydantic.dataclasses import dataclass

from gateway.config.env import apply_overrides, name_the_variable
from gateway.config.env import file_keys as file_keys
from gateway.config.messages import ConfigError as ConfigError
from gateway.config.messages import as_error, describe, problem
from gateway.config.sections import DEFAULT_ANSWERS_MAX_BYTES as DEFAULT_ANSWERS_MAX_BYTES
from gateway.config.sections import DEFAULT_MAX_BODY_BYTES as DEFAULT_MAX_BODY_BYTES
from gateway.config.sections import DEFAULT_RATE_LIMIT_BURST as DEFAULT_RATE_LIMIT_BURST
from gateway.config.sections import DEFAULT_RATE_LIMIT_PER_S as DEFAULT_RATE_LIMIT_PER_S
from gateway.config.sections import KEYS, Section, is_loopback
from gateway.config.sections import PERSISTED_QUERY_MODES as PERSISTED_QUERY_MODES
from gateway.config.sections import AuditConfig as AuditConfig
from gateway.config.sections import AuthConfig as AuthConfig
from gateway.config.sections import CacheConfig as CacheConfig
from gateway.config.sections import ClientConfig as ClientConfig
from gateway.config.sections import ConnectionLimits as ConnectionLimits
from gateway.config.sections import LimitsConfig as LimitsConfig
from gateway.config.sections import LiveConfig as LiveConfig
from gateway.config.sections import LoggingConfig as LoggingConfig
from gateway.config.sections import NotificationTarget as NotificationTarget
from gateway.config.sections import RateLimitConfig as RateLimitConfig
from gateway.config.sections import ServerConfig as ServerConfig
from gateway.config.sections import StateConfig as StateConfig
from gateway.config.sections import TracingConfig as TracingConfig
from gateway.config.sources import SourceConfig as SourceConfig
from gateway.config.sources import read_source
from gateway.config.sources import source_keys as source_keys

if TYPE_CHECKING:
    from collections.abc import Iterator, Mapping

    from gateway.config.messages import Loc

__all__ = [
    "DEFAULT_ANSWERS_MAX_BYTES",
    "DEFAULT_MAX_BODY_BYTES",
    "DEFAULT_RATE_LIMIT_BURST",
    "DEFAULT_RATE_LIMIT_PER_S",
    "PERSISTED_QUERY_MODES",
    "AuditConfig",
    "AuthConfig",
    "CacheConfig",
    "ClientConfig",
    "ConfigError",
    "ConnectionLimits",
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
    "file_keys",
    "load_config",
    "parse_config",
    "source_keys",
]


@dataclass(frozen=True, config=KEYS)
class GatewayConfig:
    server: ServerConfig = Field(default_factory=ServerConfig)
    auth: AuthConfig = Field(default_factory=AuthConfig)
    cache: CacheConfig = Field(default_factory=CacheConfig)
    limits: LimitsConfig = Field(default_factory=LimitsConfig)
    rate_limit: RateLimitConfig = Field(default_factory=RateLimitConfig)
    logging: LoggingConfig = Field(default_factory=LoggingConfig)
    tracing: TracingConfig = Field(default_factory=TracingConfig)
    audit: AuditConfig = Field(default_factory=AuditConfig)
    state: StateConfig = Field(default_factory=StateConfig)
    live: LiveConfig = Field(default_factory=LiveConfig)
    sources: tuple[Annotated[SourceConfig, PlainValidator(read_source)], ...] = ()
    notifications: tuple[NotificationTarget, ...] = ()

    def source(self, name: str) -> SourceConfig | None:
        return next((s for s in self.sources if s.name == name), None)


_CHECK = TypeAdapter(GatewayConfig)
SECTIONS = {
    name: file_keys(table)
    for name, table in typing.get_type_hints(GatewayConfig).items()
    if isinstance(table, type) and issubclass(table, Section)
}
"""Each table's keys, as an environment override may name them."""


def load_config(
    path: Path, env: Mapping[str, str] | None = None, *, server: Mapping[str, Any] | None = None
) -> GatewayConfig:
    """Read, override from the environment, and validate the file at ``path``; ``server`` holds
    the command line's ``[server]`` overrides (``serve --host``), checked like the file."""
    try:
        raw = tomllib.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read the config file ({exc.strerror})") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path}: not valid TOML ({exc})") from None
    return parse_config(raw, os.environ if env is None else env, server=server)


def parse_config(
    raw: dict[str, Any], env: Mapping[str, str], *, server: Mapping[str, Any] | None = None
) -> GatewayConfig:
    """Validate an already-parsed TOML document, secrets from ``env``; every problem is
    collected before raising, so one run of ``check-config`` reports them all."""
    raw, overridden, problems = apply_overrides(raw, env, SECTIONS, source_keys())
    for key, value in (server or {}).items():
        raw["server"] = {**raw.get("server", {}), key: value}
        overridden[f"server.{key}: "] = f"--{key}"
    errors: list[Any] = [(loc, problem(message)) for loc, message in _broken_rules(raw, env)]
    config = None
    try:
        config = _CHECK.validate_python(raw, context={"env": env})
    except ValidationError as exc:
        errors += [(error["loc"], error) for error in exc.errors()]
    if errors:
        problems += describe(as_error("gateway", errors), raw, GatewayConfig)
    if problems or config is None:
        raise ConfigError(*(name_the_variable(line, overridden) for line in problems))
    return config


def _broken_rules(raw: dict[str, Any], env: Mapping[str, str]) -> Iterator[tuple[Loc, str]]:
    """The rules that span keys, checked on the file as written so that they are reported with
    every other problem, not only once the rest is valid."""
    server, auth, state, cache = (
        _table(raw.get(name)) for name in ("server", "auth", "state", "cache")
    )
    sources, clients, targets = (
        _tables(raw, "sources"),
        _tables(auth, "clients"),
        _tables(raw, "notifications"),
    )
    names = [source.get("name") for source in sources]
    if not sources:
        yield ("sources",), "at least one [[sources]] entry is needed"
    for index, name in enumerate(names):
        if name in names[:index]:
            yield ("sources", index, "name"), f"'{name}' is used twice; names must be unique"
    for at, tables in ((("auth", "clients"), clients), (("notifications",), targets)):
        for index, table in enumerate(tables):
            for key in ("sources", "scope"):
                named = table.get(key)
                unknown = (
                    [n for n in named if n not in names] if isinstance(named, list | dict) else []
                )
                yield from (
                    ((*at, index, key), f"'{n}' is not a configured source") for n in unknown
                )
    target_names = [target.get("name") for target in targets]
    for index, name in enumerate(target_names):
        if name in target_names[index + 1 :] and name not in target_names[:index]:
            yield ("notifications", index, "name"), "used twice; names must be unique"
    host = server.get("host", ServerConfig.host)
    public = isinstance(host, str) and not is_loopback(host)
    if public and auth.get("mode", "none") == "none" and not auth.get("allow_none_on_public_host"):
        yield (
            ("auth", "mode"),
            (
                f'"none" on non-loopback host {host} would let anyone in; '
                'use "api_key" or set auth.allow_none_on_public_host = true'
            ),
        )
    if auth.get("mode") == "api_key" and not clients:
        yield ("auth", "clients"), 'auth.mode = "api_key" needs at least one [[auth.clients]]'
    client_names = [client["name"] for client in clients if "name" in client]
    keys = [secret for client in clients if (secret := env.get(str(client.get("key_env"))))]
    if len(set(map(str, client_names))) != len(client_names) or len(set(keys)) != len(keys):
        yield ("auth", "clients"), "two clients share a name or a key; give each its own"
    if state.get("backend") == "redis" and "redis_url_env" not in state:
        yield (
            ("state", "redis_url_env"),
            'needed for backend = "redis" (the variable holding the URL)',
        )
    if state.get("backend") == "redis" and "cursor_secret_env" not in server:
        yield (
            ("server", "cursor_secret_env"),
            (
                "replicas that share state must share the cursor secret (a cursor one replica signed "
                "must verify on the next): set it on every replica"
            ),
        )
    redis_url = env.get(str(state.get("redis_url_env")), "")
    if redis_url and not redis_url.startswith(("redis://", "rediss://", "unix://")):
        yield (
            ("state", "redis_url_env"),
            (f"{state['redis_url_env']} does not hold a redis://, rediss:// or unix:// URL"),
        )
    manifest = cache.get("trusted_documents")
    if cache.get("persisted_queries") == "trusted" and not Path(str(manifest)).is_file():
        yield (
            ("cache", "trusted_documents"),
            (f"no file at {manifest}" if manifest else 'needed when persisted_queries = "trusted"'),
        )


def _table(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _tables(raw: dict[str, Any], key: str) -> list[dict[str, Any]]:
    value = raw.get(key)
    return [_table(table) for table in value] if isinstance(value, list) else []
