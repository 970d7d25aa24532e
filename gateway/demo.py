"""The demo: the gateway configured against the embedded sandbox, no credentials needed."""

from __future__ import annotations

from typing import Any

from gateway.config import GatewayConfig, parse_config
from sandbox import SANDBOX_CREDENTIALS
from sandbox.webhooks import SANDBOX_WEBHOOK_SECRETS

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

_ENV_NAMES = {"api_key": "API_KEY", "auth_token": "AUTH_TOKEN"}
DEMO_SOURCE_NAMES = {"rotavision": "rv", "velt": "velt", "nesting": "zaia", "truthlocks": "tl"}
"""Kind → the demo's source name (the sandbox's webhook sender posts to /webhooks/<name>)."""


def demo_raw_config(
    sandbox_url: str, *, port: int = 8000, step_kinds: bool = False
) -> tuple[dict[str, Any], dict[str, str]]:
    """The demo's config document and the environment holding the sandbox's keys.

    ``step_kinds`` turns on the Rotavision source's workflow-definition lookup (what ``gateway
    demo`` shows); tests leave it off so they count exactly one call per execution.
    """
    env: dict[str, str] = {}
    sources: list[dict[str, Any]] = []
    names = DEMO_SOURCE_NAMES
    for kind, secrets in SANDBOX_CREDENTIALS.items():
        source: dict[str, Any] = {"name": names[kind], "kind": kind, "base_url": sandbox_url}
        for secret, value in secrets.items():
            if secret == "tenant_id":  # noqa: S105 (a config key, not a password)
                source["tenant_id"] = value
                continue
            variable = f"SANDBOX_{names[kind].upper()}_{_ENV_NAMES[secret]}"
            env[variable] = value
            source[f"{secret}_env"] = variable
        if kind in SANDBOX_WEBHOOK_SECRETS:  # the sandbox signs its webhooks with these
            variable = f"SANDBOX_{names[kind].upper()}_WEBHOOK_SECRET"
            env[variable] = SANDBOX_WEBHOOK_SECRETS[kind]
            source["webhook_secret_env"] = variable
        if kind == "rotavision" and step_kinds:
            source["step_kinds_from_workflow"] = True
        sources.append(source)
    raw = {
        "server": {"host": "127.0.0.1", "port": port},
        "auth": {"mode": "none", "anonymous_reviewer_id": DEMO_REVIEWER},
        # One person on loopback, and the benchmark drives it with thousands a second: no limit.
        "rate_limit": {"requests_per_s": 0},
        "sources": sources,
    }
    return raw, env


def demo_config(sandbox_url: str, *, port: int = 8000, step_kinds: bool = False) -> GatewayConfig:
    raw, env = demo_raw_config(sandbox_url, port=port, step_kinds=step_kinds)
    return parse_config(raw, env)
