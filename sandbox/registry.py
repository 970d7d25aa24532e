"""Every sandbox twin, one line per kind: what the demo and the banner read."""

from __future__ import annotations

from sandbox import agent_server, nesting, rotavision, truthlocks, velt

__all__ = ["SANDBOX_CREDENTIALS", "SANDBOX_WEBHOOK_SECRETS", "TWINS"]

TWINS = (rotavision.TWIN, nesting.TWIN, truthlocks.TWIN, velt.TWIN, agent_server.TWIN)

SANDBOX_CREDENTIALS: dict[str, dict[str, str]] = {
    t.kind: dict(t.credentials) for t in TWINS if t.launch is None
}
"""The keys the simulated twins accept by default; the demo config hands the same to the gateway."""
SANDBOX_WEBHOOK_SECRETS: dict[str, str] = {
    t.kind: t.webhook_secret for t in TWINS if t.webhook_secret is not None
}
"""What the sandbox signs with; the demo config gives the gateway the same."""
