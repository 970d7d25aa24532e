"""The gateway's TOML configuration: parsed, validated, secrets read from the environment.

A bad file gets one line per problem, each naming its key (``source "rv": kind: …``), all of them
in one run, in file order: the tables' own (``tables``, ``sources``), the rules that span them
(``rules``), worded by ``messages``; a ``GATEWAY__`` variable overrides a key (``overrides``).
"""

from __future__ import annotations

import copy
import os
import tomllib
from typing import TYPE_CHECKING, Any

from pydantic import ValidationError

from gateway.config.keys import ConfigError
from gateway.config.messages import in_file_order, say
from gateway.config.overrides import apply_overrides
from gateway.config.rules import broken_rules
from gateway.config.sources import SourceConfig
from gateway.config.tables import (
    PERSISTED_QUERY_MODES,
    AuditConfig,
    AuthConfig,
    CacheConfig,
    ClientConfig,
    ConnectionLimits,
    GatewayConfig,
    LimitsConfig,
    LiveConfig,
    LoggingConfig,
    NotificationTarget,
    RateLimitConfig,
    ServerConfig,
    StateConfig,
    TracingConfig,
)

if TYPE_CHECKING:
    from collections.abc import Mapping
    from pathlib import Path

__all__ = [
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
    "load_config",
    "parse_config",
]


def load_config(
    path: Path, env: Mapping[str, str] | None = None, *, server: Mapping[str, Any] | None = None
) -> GatewayConfig:
    """Read and check the file at ``path`` (see ``parse_config``)."""
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
    """Validate a parsed TOML document, overridden and with secrets read from ``env``; ``server``
    holds the command line's ``[server]`` keys (``serve --host``), checked like the file. Every
    problem is collected before raising, so one run of ``check-config`` reports them all."""
    raw = copy.deepcopy(raw)
    set_by, found = apply_overrides(raw, env)
    for key, value in (server or {}).items():
        raw.setdefault("server", {})[key], set_by[("server", key)] = value, f"--{key}"
    broken = [(loc, message, False) for loc, message in broken_rules(raw, env)]
    try:
        config = GatewayConfig.model_validate(raw, context={"env": env})
    except ValidationError as exc:
        broken += [(e["loc"], say(e, raw), e["type"] == "extra_forbidden") for e in exc.errors()]
    found += in_file_order(broken, raw, set_by)
    if found:
        raise ConfigError(*found)
    return config
