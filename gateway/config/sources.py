"""``[[sources]]``: one upstream each. A table is checked by a model built from its kind's adapter
class (``secrets``, ``options_type``, whether it has ``webhooks``) and the engine's settings, so no
kind is named here and a fifth kind adds nothing to this module."""

from __future__ import annotations

import dataclasses
import functools
import os
import ssl
import typing
from typing import TYPE_CHECKING, Annotated, Any

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    Strict,
    ValidationError,
    create_model,
    model_validator,
)
from pydantic_core import InitErrorDetails

from adapters.base import Credentials
from adapters.declarations import WEBHOOK_SECRET
from adapters.declarations import Secret as Declared
from adapters.engine import HTTPSettings
from adapters.model import SourceKind
from adapters.registry import ADAPTERS
from adapters.transports import TransportOptions
from gateway.config.keys import (
    EnvVar,
    Float,
    Name,
    Positive,
    Secret,
    Str,
    Url,
    close_to,
    file_keys,
    problem,
    read_secrets,
)

if TYPE_CHECKING:
    from collections.abc import Iterator, Mapping

    from pydantic import ValidationInfo

    from adapters.base import SourceAdapter

__all__ = ["SourceConfig", "in_words", "read_source", "source_keys"]

FILES = ("ca_bundle", "client_cert", "client_key")
SIGNED = (Declared("webhook_secret", required=False), Declared("webhook_secret_previous", False))


@dataclasses.dataclass(frozen=True, slots=True)
class SourceConfig:
    """One source as the gateway runs it: its table read through its kind's declarations."""

    name: str
    kind: SourceKind
    base_url: str
    credentials: Credentials
    http: HTTPSettings
    cache_ttl_s: float | None  # for runs of any status; 0 turns caching them off
    options: Any  # an instance of the adapter's ``options_type``
    webhook_secrets: tuple[str, ...]  # the current one first, then the one senders rotate from
    poll_interval_s: float


class _Table(BaseModel):
    """The keys every source has."""

    model_config = ConfigDict(extra="forbid", strict=True)
    _read_secrets = model_validator(mode="before")(read_secrets)

    name: Name
    kind: Annotated[SourceKind, Strict(False)]
    base_url: Url
    cache_ttl_s: Annotated[Float, Field(ge=0)] | None = None
    poll_interval_s: Positive = 5.0


def _optional(cls: type) -> dict[str, Any]:
    """``cls``'s fields as keys (one left out keeps its default); the engine's numbers are
    positive, or zero or more where 0 turns it off (retries, the breaker)."""
    hints = typing.get_type_hints(cls, include_extras=True)
    bounds = {"retries": Field(ge=0), "breaker_failures": Field(ge=0)}
    bound = Field(gt=0) if cls is HTTPSettings else Field()
    return {
        field.name: (Annotated[hints[field.name], bounds.get(field.name, bound)], None)
        for field in dataclasses.fields(cls)
        if field.name not in ("transport", "max_body_bytes")  # not keys: set by the gateway
    }


@functools.cache
def _model(adapter: type[SourceAdapter]) -> type[_Table]:
    """The model of a table of the kind ``adapter`` serves."""
    secrets: dict[str, Any] = {}
    for secret in (*adapter.secrets, *(SIGNED if adapter.webhooks else ())):
        needed = secret.required and not secret.literal
        secrets[f"{secret.name}_env"] = (EnvVar, ...) if needed else (EnvVar | None, None)
        written = (Str, ...) if secret.required else (Str | None, None)
        secrets[secret.name] = written if secret.literal else (Secret | None, None)
    return create_model(
        f"{adapter.__name__}Table",
        __base__=_Table,
        **_optional(HTTPSettings),
        **_optional(TransportOptions),
        **_optional(adapter.options_type),
        **secrets,
    )


def _keys(adapter: type[SourceAdapter]) -> set[str]:
    return set(file_keys(_model(adapter))) | {s.name for s in adapter.secrets if s.literal}


def source_keys() -> set[str]:
    """Every key some source may have."""
    return set().union(*map(_keys, ADAPTERS.values()))


def _adapter(table: Any) -> type[SourceAdapter] | None:
    try:
        return ADAPTERS[SourceKind(table["kind"])]
    except (TypeError, KeyError, ValueError):
        return None


def read_source(table: Any, info: ValidationInfo) -> SourceConfig:
    """A ``[[sources]]`` table as the gateway runs it; raises every problem in it at once."""
    if isinstance(table, SourceConfig):
        return table
    adapter = _adapter(table)
    if adapter is None and isinstance(table, dict):  # nothing tells its other keys: not checked
        table = {key: value for key, value in table.items() if key in _Table.model_fields}
    read = (_model(adapter) if adapter else _Table).model_validate(table, context=info.context)
    adapter = ADAPTERS[read.kind]

    def given(cls: type) -> dict[str, Any]:
        keys = read.model_fields_set & {field.name for field in dataclasses.fields(cls)}
        return {key: getattr(read, key) for key in keys}

    transport = TransportOptions(**given(TransportOptions))
    options = adapter.options_type(**given(adapter.options_type))
    signed = tuple(getattr(read, secret.name, None) for secret in SIGNED)
    configured = {s.name for s in adapter.secrets if getattr(read, s.name)}
    configured |= {WEBHOOK_SECRET} if signed[0] else set()
    env = info.context["env"] if info.context else os.environ
    wrong = [
        *_unreachable(transport, read.base_url, env),
        *adapter.option_problems(options, frozenset(configured)),
        *(
            [("webhook_secret_previous_env", "needs webhook_secret_env (the current one)")]
            if signed[1] and not signed[0]
            else []
        ),
    ]
    if wrong:
        details = [InitErrorDetails(type=problem(m), loc=(k,), input=None) for k, m in wrong]
        raise ValidationError.from_exception_data("source", details)
    return SourceConfig(
        name=read.name,
        kind=read.kind,
        base_url=read.base_url,
        credentials=Credentials(**{s.name: getattr(read, s.name) for s in adapter.secrets}),
        http=HTTPSettings(**given(HTTPSettings), transport=transport),
        cache_ttl_s=read.cache_ttl_s,
        options=options,
        webhook_secrets=tuple(secret for secret in signed if secret),
        poll_interval_s=read.poll_interval_s,
    )


def in_words(table: Any, key: str, error: str) -> str | None:
    """What only the kind can say of a key missing from ``table`` or unknown to its kind."""
    adapter = _adapter(table)
    if adapter is None or error not in ("missing", "extra_forbidden"):
        return None
    kind, owners = (
        adapter.kind.value,
        [f"'{k.value}'" for k, a in ADAPTERS.items() if key in _keys(a)],
    )
    if error == "missing":
        return None if key in _Table.model_fields else f"missing (a '{kind}' source needs it)"
    if key.startswith("webhook_secret") and not adapter.webhooks:
        return f"'{kind}' sources send no signed webhooks"
    if owners:
        return f"only {' and '.join(owners)} sources have it"
    return "unknown key" + close_to(key, _keys(adapter))


def _unreachable(
    transport: TransportOptions, base_url: str, env: Mapping[str, str]
) -> Iterator[tuple[str, str]]:
    """Proxy and TLS keys, checked as far as can be without connecting: files exist and load."""
    named = {key: path for key in FILES if (path := getattr(transport, key))}
    missing = [key for key, path in named.items() if not os.path.isfile(path)]
    yield from ((key, f"'{named[key]}' is not a file") for key in missing)
    if transport.client_key and not transport.client_cert:
        yield "client_key", "needs client_cert (the certificate it goes with)"
    try:
        transport.proxy_for(base_url, env)
    except ValueError as exc:
        fix = "fix HTTPS_PROXY/HTTP_PROXY/ALL_PROXY, or set trust_env = false"
        in_env = ("trust_env", f"the environment's proxy for this source: {exc} ({fix})")
        yield ("proxy_url", str(exc)) if transport.proxy_url else in_env
    if base_url.startswith("https:") and named and not missing:
        try:
            transport.ssl_context()
        except (OSError, ssl.SSLError) as exc:
            yield "ca_bundle/client_cert/client_key", f"not a usable PEM certificate or key ({exc})"
