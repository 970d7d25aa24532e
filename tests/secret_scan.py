"""A suite-wide check that no response and no log line carries a configured secret.

Every app the tests serve over HTTP (``tests.serving.serving``) is wrapped so its response
headers and bodies are scanned, and a handler on the root logger scans every record of the
session. The secrets are the sandbox's credentials plus every key configured in any gateway the
suite serves. ``tests/conftest.py`` fails the session when anything was found.
"""

from __future__ import annotations

import json
import logging
from typing import TYPE_CHECKING, Any

from sandbox import SANDBOX_CREDENTIALS

if TYPE_CHECKING:
    from starlette.types import ASGIApp, Message, Receive, Scope, Send

__all__ = ["FINDINGS", "SecretLogScanner", "scan_responses", "secrets_of"]

_NOT_SECRET = {"tenant_id"}
SECRETS: set[str] = {
    value
    for credentials in SANDBOX_CREDENTIALS.values()
    for name, value in credentials.items()
    if name not in _NOT_SECRET
}
FINDINGS: list[str] = []


def secrets_of(app: Any) -> set[str]:
    """The keys a started gateway app was configured with (none for other apps)."""
    runtime = getattr(getattr(app, "state", None), "runtime", None)
    if runtime is None:
        return set()
    found = {c.key for c in runtime.config.auth.clients}
    for source in runtime.config.sources:
        found |= {s for name, s in source.credentials.items() if name != "tenant_id" and s}
    return found


def _check(text: str, where: str) -> None:
    for secret in SECRETS:
        if secret and secret in text:
            FINDINGS.append(f"{where}: contains a configured secret ({secret[:3]}…)")


def scan_responses(app: ASGIApp) -> ASGIApp:
    """``app`` with every response header and body chunk scanned for secrets."""

    async def scanned(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            await app(scope, receive, send)
            return
        where = f"response to {scope.get('method', '')} {scope.get('path', '')}"

        async def scanning_send(message: Message) -> None:
            SECRETS.update(secrets_of(app))
            if message["type"] == "http.response.start":
                headers = b"\n".join(b"%s: %s" % (k, v) for k, v in message.get("headers", []))
                _check(headers.decode("latin-1"), where)
            elif message["type"] == "http.response.body":
                _check(message.get("body", b"").decode("utf-8", "replace"), where)
            await send(message)

        await app(scope, receive, scanning_send)

    return scanned


class SecretLogScanner(logging.Handler):
    """Scans each record's message and structured extras."""

    def emit(self, record: logging.LogRecord) -> None:
        try:
            text = record.getMessage()
        except (TypeError, ValueError):
            text = str(record.msg)
        extras = {k: v for k, v in vars(record).items() if k not in _STANDARD}
        _check(text + " " + json.dumps(extras, default=str), f"log record from {record.name}")


_STANDARD = set(vars(logging.LogRecord("", 0, "", 0, "", None, None))) | {"message", "asctime"}
