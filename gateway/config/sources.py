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
    ValidationInfo,
    create_model,
    field_validator,
    model_validator,
)

from adapters.base import Credentials
from adapters.declarations import WEBHOOK_SECRET
from adapters.engine import HTTPSettings
from adapters.model import SourceKind
from adapters.registry import ADAPTERS, adapter_class
from adapters.transports import TransportOptions
from gateway.config.env import EnvVar, Secret, env_of, file_keys, read_secrets
from gateway.config.messages import as_error, close_to, problem
from gateway.config.sections import Float, Str, matching

if TYPE_CHECKING:
    from collections.abc import Iterable, Iterator, Mapping

    from pydantic.fields import FieldInfo
    from pydantic_core import ErrorDetails, PydanticCustomError

    from adapters.base import SourceAdapter
    from gateway.config.messages import Loc

__all__ = ["SourceConfig", "read_source", "source_keys"]

ENGINE = {
    f.name: Field(ge=0) if f.name in ("retries", "breaker_failures") else Field(gt=0)  # 0: off
    for f in dataclasses.fields(HTTPSettings)
    if f.name != "transport"
}
TRANSPORT = {f.name: Field() for f in dataclasses.fields(TransportOptions)}
del TRANSPORT["max_body_bytes"]  # the gateway's bound, not a key
FILES = ("ca_bundle", "client_cert", "client_key")
WEBHOOKS = ("webhook_secret_env", "webhook_secret_previous_env")


@dataclasses.dataclass(frozen=True, slots=True)
class SourceConfig:
    """One source as the gateway runs it: its table read through its kind's declarations."""

    name: str
    kind: SourceKind
    base_url: str
    credentials: Credentials = dataclasses.field(default_factory=Credentials)
    http: HTTPSettings = dataclasses.field(default_factory=HTTPSettings)
    cache_ttl_s: float | None = None  # for runs of any status; 0 turns caching them off
    options: Any = None  # an instance of the adapter's ``options_type``
    webhook_secrets: tuple[str, ...] = dataclasses.field(default=(), repr=False)
    poll_interval_s: float = 5.0


class _Table(BaseModel):
    """The keys every source has."""

    model_config = ConfigDict(extra="forbid", strict=True)

    name: Annotated[
        Str,
        matching(
            r"[a-z0-9-]{1,32}\Z", "'{value}' must match [a-z0-9-]{1,32} (it prefixes global ids)"
        ),
    ]
    kind: Annotated[SourceKind, Strict(False)]
    base_url: Annotated[Str, matching(r"https?://[^\s/]+", "'{value}' must be an http(s) URL")]
    cache_ttl_s: Annotated[Float, Field(ge=0)] | None = None
    poll_interval_s: Annotated[Float, Field(gt=0)] = 5.0

    @model_validator(mode="before")
    @classmethod
    def _read_secrets(cls, data: Any, info: ValidationInfo) -> Any:
        return read_secrets(cls, data, info)


class _Signed(_Table):
    """A source whose upstream signs its webhooks: the secret, and the previous one while
    senders rotate."""

    webhook_secret_env: EnvVar | None = None
    webhook_secret: Secret | None = None
    webhook_secret_previous_env: EnvVar | None = None
    webhook_secret_previous: Secret | None = None

    @field_validator("webhook_secret_previous_env")
    @classmethod
    def _after_the_current(cls, variable: str | None, info: ValidationInfo) -> str | None:
        if variable and info.data.get("webhook_secret_env", variable) is None:
            raise problem("needs webhook_secret_env (the current one)")
        return variable


def _optional(cls: type, keys: Mapping[str, FieldInfo]) -> dict[str, Any]:
    """``cls``'s fields as keys of a table; one left out keeps ``cls``'s default."""
    hints = typing.get_type_hints(cls, include_extras=True)
    return {key: (Annotated[hints[key], bound], None) for key, bound in keys.items()}


@functools.cache
def _table(adapter: type[SourceAdapter]) -> type[_Table]:
    """The model of a table of the kind ``adapter`` serves."""
    options = {f.name: Field() for f in dataclasses.fields(adapter.options_type)}
    secrets: dict[str, Any] = {}
    for secret in adapter.secrets:
        value = Str if secret.literal else Secret
        secrets[f"{secret.name}_env"] = (EnvVar | None, None)
        secrets[secret.name] = (value, ...) if secret.required else (value | None, None)
    return create_model(
        f"{adapter.__name__}Table",
        __base__=_Signed if adapter.webhooks else _Table,
        **_optional(HTTPSettings, ENGINE),
        **_optional(TransportOptions, TRANSPORT),
        **_optional(adapter.options_type, options),
        **secrets,
    )


def _keys(adapter: type[SourceAdapter]) -> set[str]:
    literal = {secret.name for secret in adapter.secrets if secret.literal}
    return set(file_keys(_table(adapter))) | literal


def source_keys() -> set[str]:
    """Every key some source may have."""
    return set().union(*map(_keys, ADAPTERS.values()))


def read_source(table: Any, info: ValidationInfo) -> SourceConfig:
    """A ``[[sources]]`` table as the gateway runs it; raises every problem in it at once."""
    if isinstance(table, SourceConfig):
        return table
    kind = _kind(table)
    adapter = adapter_class(kind) if kind else None
    if adapter is None and isinstance(table, dict):  # nothing tells its other keys: not checked
        table = {key: value for key, value in table.items() if key in _Table.model_fields}
    try:
        read = (_table(adapter) if adapter else _Table).model_validate(table, context=info.context)
    except ValidationError as exc:
        raise as_error("source", [_in_words(error, adapter) for error in exc.errors()]) from None
    adapter = adapter_class(read.kind)

    def given(keys: Iterable[str]) -> dict[str, Any]:
        return {key: getattr(read, key) for key in read.model_fields_set.intersection(keys)}

    transport = TransportOptions(**given(TRANSPORT))
    env = env_of(info)
    problems = list(_unreachable(transport, read.base_url, os.environ if env is None else env))
    if problems:
        raise as_error("source", problems)
    signed = [getattr(read, name, None) for name in ("webhook_secret", "webhook_secret_previous")]
    options = adapter.options_type(
        **given(f.name for f in dataclasses.fields(adapter.options_type))
    )
    configured = {secret.name for secret in adapter.secrets if getattr(read, secret.name, None)}
    configured |= {WEBHOOK_SECRET} if signed[0] else set()
    wrong = adapter.option_problems(options, frozenset(configured))
    if problems := [((key,), problem(message)) for key, message in wrong]:
        raise as_error("source", problems)
    return SourceConfig(
        name=read.name,
        kind=read.kind,
        base_url=read.base_url,
        credentials=Credentials(**given(secret.name for secret in adapter.secrets)),
        http=HTTPSettings(**given(ENGINE), transport=transport),
        cache_ttl_s=read.cache_ttl_s,
        options=options,
        webhook_secrets=tuple(secret for secret in signed if secret),
        poll_interval_s=read.poll_interval_s,
    )


def _kind(table: Any) -> SourceKind | None:
    try:
        return SourceKind(table["kind"])
    except (TypeError, KeyError, ValueError):
        return None


def _in_words(error: ErrorDetails, adapter: type[SourceAdapter] | None) -> tuple[Loc, Any]:
    """What only the kind can say: which kinds have an unknown key, which secret it needs."""
    key = str(error["loc"][0]) if error["loc"] else ""
    if adapter is None or error["type"] not in ("missing", "extra_forbidden"):
        return error["loc"], error
    kind = adapter.kind.value
    secret = next((s for s in adapter.secrets if s.name == key), None)
    owners = [f"'{k.value}'" for k, a in ADAPTERS.items() if key in _keys(a)]
    if error["type"] == "missing":
        loc = (key if secret is None or secret.literal else f"{key}_env",)
        return loc, problem(f"missing (a '{kind}' source needs it)") if secret else error
    if key in WEBHOOKS:
        return error["loc"], problem(f"'{kind}' sources send no signed webhooks")
    if owners:
        return error["loc"], problem(f"only {' and '.join(owners)} sources have it")
    return error["loc"], problem("unknown key" + close_to(key, _keys(adapter)), "unknown_key")


def _unreachable(
    transport: TransportOptions, base_url: str, env: Mapping[str, str]
) -> Iterator[tuple[Loc, PydanticCustomError]]:
    """Proxy and TLS keys, checked as far as can be without connecting: files exist and load."""
    named = {key: path for key in FILES if (path := getattr(transport, key))}
    missing = [key for key, path in named.items() if not os.path.isfile(path)]
    for key in missing:
        yield (key,), problem(f"'{named[key]}' is not a file")
    if transport.client_key and not transport.client_cert:
        yield ("client_key",), problem("needs client_cert (the certificate it goes with)")
    try:
        transport.proxy_for(base_url, env)
    except ValueError as exc:
        if transport.proxy_url:
            yield ("proxy_url",), problem(str(exc))
        else:
            fix = "fix HTTPS_PROXY/HTTP_PROXY/ALL_PROXY, or set trust_env = false"
            yield ("trust_env",), problem(f"the environment's proxy for this source: {exc} ({fix})")
    if base_url.startswith("https:") and named and not missing:
        try:
            transport.ssl_context()
        except (OSError, ssl.SSLError) as exc:
            loc = ("ca_bundle/client_cert/client_key",)
            yield loc, problem(f"not a usable PEM certificate or key ({exc})")
