"""Who is calling: API keys from the config, compared in constant time, never logged.

``auth.mode = "api_key"``: every request to ``/graphql`` must send ``Authorization: Bearer <key>``
of a configured client, else HTTP 401 with ``UNAUTHENTICATED``. ``auth.mode = "none"``: everyone
is the anonymous caller with both roles (the demo on loopback). Two ``Authorization`` headers are
a 400 in either mode. ``viewer`` may query and subscribe, ``approver`` may call the decision mutations: the gate
(gateway/gate) checks the roles, whichever transport carried the operation.

WebSockets (subscriptions, docs/live.md) authenticate the same way when the handshake carries
the header; browsers cannot set it, so without one the connection is accepted as
``AWAITING_INIT`` (no roles) and the key must come in the ``connection_init`` payload
(``authenticate_connection``), else the socket closes with 4403 before any subscription.
"""

from __future__ import annotations

import hmac
import json
from typing import TYPE_CHECKING

from gateway.core.caller import ANONYMOUS, APPROVER, AWAITING_INIT, VIEWER, Caller
from gateway.http.guards import send_error

if TYPE_CHECKING:
    from starlette.types import ASGIApp, Receive, Scope, Send

    from gateway.config import AuthConfig

__all__ = [
    "ANONYMOUS",
    "APPROVER",
    "AWAITING_INIT",
    "VIEWER",
    "AuthMiddleware",
    "authenticate",
    "authenticate_connection",
]


_CHALLENGE = [(b"www-authenticate", b'Bearer realm="execution-gateway"')]


def authenticate(config: AuthConfig, authorization: str | None) -> Caller | None:
    """The configured client whose key the header carries, or None."""
    if config.mode == "none":
        if config.anonymous_reviewer_id:
            return Caller(ANONYMOUS.name, ANONYMOUS.roles, reviewer_id=config.anonymous_reviewer_id)
        return ANONYMOUS
    if not authorization:
        return None
    scheme, _, token = authorization.partition(" ")
    if scheme.lower() != "bearer" or not token:
        return None
    presented = token.strip().encode()
    found: Caller | None = None
    # Compare against every client so the time taken does not say which key came close.
    for client in config.clients:
        if hmac.compare_digest(presented, client.key.encode()):
            found = Caller(name=client.name, roles=client.roles, reviewer_id=client.reviewer_id)
    return found


def authenticate_connection(config: AuthConfig, params: object) -> Caller | None:
    """The caller a ``connection_init`` payload names: ``{"Authorization": "Bearer <key>"}``
    (any case), or ``{"apiKey": "<key>"}``."""
    if config.mode == "none":
        return authenticate(config, None)
    if not isinstance(params, dict):
        return None
    for name, value in params.items():
        if isinstance(name, str) and isinstance(value, str):
            if name.lower() == "authorization":
                return authenticate(config, value)
            if name in ("apiKey", "api_key"):
                return authenticate(config, f"Bearer {value}")
    return None


class AuthMiddleware:
    """Puts the caller on ``scope["state"]["caller"]`` or answers 401 before any GraphQL work."""

    def __init__(
        self, app: ASGIApp, config: AuthConfig, protected: tuple[str, ...] = ("/graphql",)
    ) -> None:
        self.app = app
        self.config = config
        self.protected = protected

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        kind = scope["type"]
        if kind not in ("http", "websocket") or not scope["path"].startswith(self.protected):
            await self.app(scope, receive, send)
            return
        headers = [value for name, value in scope["headers"] if name == b"authorization"]
        if len(headers) > 1:
            # Proxies and frameworks disagree on which of two wins; taking either is a guess.
            if kind == "websocket":
                await send({"type": "websocket.close", "code": 4400})
                return
            await send_error(
                send,
                400,
                "Send one Authorization header; this request has several.",
                "BAD_USER_INPUT",
            )
            return
        header = headers[0].decode("latin-1") if headers else None
        if kind == "websocket" and header is None and self.config.mode != "none":
            scope.setdefault("state", {})["caller"] = AWAITING_INIT
            await self.app(scope, receive, send)
            return
        caller = authenticate(self.config, header)
        if caller is None:
            if kind == "websocket":  # refused before the handshake: the client sees HTTP 403
                await send({"type": "websocket.close", "code": 4401})
            else:
                await _unauthenticated(send)
            return
        scope.setdefault("state", {})["caller"] = caller
        await self.app(scope, receive, send)


async def _unauthenticated(send: Send) -> None:
    body = json.dumps(
        {
            "errors": [
                {
                    "message": "Send 'Authorization: Bearer <key>' with a key this gateway knows.",
                    "extensions": {"code": "UNAUTHENTICATED"},
                }
            ]
        }
    ).encode()
    headers = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]
    await send({"type": "http.response.start", "status": 401, "headers": headers + _CHALLENGE})
    await send({"type": "http.response.body", "body": body})
