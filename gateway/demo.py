"""The demo: the gateway configured against the embedded sandbox, no credentials needed."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from adapters.model import SourceKind
from adapters.registry import adapter_class
from gateway.config import GatewayConfig, parse_config
from sandbox import TWINS

if TYPE_CHECKING:
    from collections.abc import Mapping

__all__ = [
    "DEMO_EXECUTION_ID",
    "DEMO_REVIEWER",
    "DEMO_SOURCE_NAMES",
    "demo_config",
    "demo_raw_config",
]

DEMO_EXECUTION_ID = "rv:exec_wait0001"
"""A Rotavision-style execution waiting for approval, always present in the sandbox."""

DEMO_REVIEWER = "ops@example.com"
"""Who the demo's operator decides as: a declared reviewer of the sandbox's waiting approvals."""

DEMO_SOURCE_NAMES = {twin.kind: twin.demo_name for twin in TWINS}
"""Kind → the demo's source name (the sandbox's webhook sender posts to /webhooks/<name>)."""


def demo_raw_config(
    sandbox_url: str,
    *,
    port: int = 8000,
    step_kinds: bool = False,
    launched: Mapping[str, str] | None = None,
) -> tuple[dict[str, Any], dict[str, str]]:
    """The demo's config document and the environment holding the sandbox's keys.

    ``step_kinds`` turns on each twin's ``showcase_options`` (Rotavision's workflow-definition
    lookup: what ``gateway demo`` shows); tests leave it off so they count exactly one call per
    execution. ``launched`` maps the kinds whose real server runs here (a twin's ``launch``) to
    its URL; such a kind is left out unless it is there.
    """
    env: dict[str, str] = {}
    sources: list[dict[str, Any]] = []
    for twin in TWINS:
        base_url = sandbox_url if twin.launch is None else (launched or {}).get(twin.kind)
        if base_url is None:
            continue
        prefix = f"SANDBOX_{twin.demo_name.upper()}"
        source: dict[str, Any] = {"name": twin.demo_name, "kind": twin.kind, "base_url": base_url}
        for secret in adapter_class(SourceKind(twin.kind)).secrets:
            value = twin.credentials.get(secret.name)
            if value is None:
                continue
            if secret.literal:  # an id, not a secret: written in the file
                source[secret.name] = value
            else:
                env[f"{prefix}_{secret.name.upper()}"] = value
                source[f"{secret.name}_env"] = f"{prefix}_{secret.name.upper()}"
        if twin.webhook_secret is not None:  # the sandbox signs its webhooks with it
            env[f"{prefix}_WEBHOOK_SECRET"] = twin.webhook_secret
            source["webhook_secret_env"] = f"{prefix}_WEBHOOK_SECRET"
        if step_kinds:
            source.update(twin.showcase_options)
        sources.append(source)
    raw = {
        "server": {"host": "127.0.0.1", "port": port},
        "auth": {"mode": "none", "anonymous_reviewer_id": DEMO_REVIEWER},
        # One person on loopback, and the benchmark drives it with thousands a second: no limit.
        "rate_limit": {"requests_per_s": 0},
        "sources": sources,
    }
    return raw, env


def demo_config(
    sandbox_url: str,
    *,
    port: int = 8000,
    step_kinds: bool = False,
    launched: Mapping[str, str] | None = None,
) -> GatewayConfig:
    raw, env = demo_raw_config(sandbox_url, port=port, step_kinds=step_kinds, launched=launched)
    return parse_config(raw, env)
