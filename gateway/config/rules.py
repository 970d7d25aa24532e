"""The rules that span keys or tables (a name used twice, a scope naming no source, auth on a
public host, Redis state), checked on the file as written so that they are reported with every
other problem in one run, not only once the rest is valid."""

from __future__ import annotations

import ipaddress
from pathlib import Path
from typing import TYPE_CHECKING, Any

from gateway.config.keys import as_table, as_tables

if TYPE_CHECKING:
    from collections.abc import Iterator, Mapping

    from gateway.config.keys import Loc

__all__ = ["broken_rules"]


def broken_rules(raw: dict[str, Any], env: Mapping[str, str]) -> Iterator[tuple[Loc, str]]:
    """Each rule ``raw`` breaks: the key it is reported on, and what is wrong."""
    server, auth, state, cache = (
        as_table(raw.get(t)) for t in ("server", "auth", "state", "cache")
    )
    sources, clients = as_tables(raw.get("sources")), as_tables(auth.get("clients"))
    lists = {("sources",): sources, ("notifications",): as_tables(raw.get("notifications"))}
    names = [source.get("name") for source in sources]
    if not sources:
        yield ("sources",), "at least one [[sources]] entry is needed"
    for at, tables in (lists | {("auth", "clients"): clients}).items():
        for index, table in enumerate(tables):
            if table.get("name") in [other.get("name") for other in tables[:index]]:
                yield (*at, index, "name"), f"'{table['name']}' is used twice; names must be unique"
            for key in ("sources", "scope"):
                named = value if isinstance(value := table.get(key), list | dict) else []
                for name in (n for n in named if n not in names):
                    yield (*at, index, key), f"'{name}' is not a configured source"
    host = server.get("host", "127.0.0.1")
    none = auth.get("mode", "none") == "none" and not auth.get("allow_none_on_public_host")
    if none and not _is_loopback(str(host)):
        yield (
            ("auth", "mode"),
            f'"none" on non-loopback host {host} would let anyone in; '
            'use "api_key" or set auth.allow_none_on_public_host = true',
        )
    if auth.get("mode") == "api_key" and not clients:
        yield ("auth", "clients"), 'auth.mode = "api_key" needs at least one [[auth.clients]]'
    keys = [secret for client in clients if (secret := env.get(str(client.get("key_env"))))]
    if len(set(keys)) != len(keys):
        yield ("auth", "clients"), "two clients share a key; give each its own"
    if state.get("backend") == "redis" and "redis_url_env" not in state:
        yield ("state", "redis_url_env"), 'needed for backend = "redis" (the variable naming it)'
    if state.get("backend") == "redis" and "cursor_secret_env" not in server:
        yield (
            ("server", "cursor_secret_env"),
            "replicas that share state must share the cursor secret (a cursor one replica signed "
            "must verify on the next): set it on every replica",
        )
    redis_url = env.get(str(state.get("redis_url_env")), "")
    if redis_url and not redis_url.startswith(("redis://", "rediss://", "unix://")):
        url_env = state["redis_url_env"]
        yield (
            ("state", "redis_url_env"),
            f"{url_env} does not hold a redis://, rediss:// or unix:// URL",
        )
    manifest = cache.get("trusted_documents")
    if cache.get("persisted_queries") == "trusted" and not Path(str(manifest)).is_file():
        missing = (
            f"no file at {manifest}" if manifest else 'needed when persisted_queries = "trusted"'
        )
        yield ("cache", "trusted_documents"), missing


def _is_loopback(host: str) -> bool:
    try:
        return host == "localhost" or ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False
