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

``EventSource`` (SSE over GET) cannot set headers either, and an API key must never sit in a URL
(URLs land in proxies' logs and browser history). So a page asks ``POST /graphql/stream-token``
with its key and gets a **stream token**: signed with that client's key (HMAC-SHA256, so every
replica with the same config verifies it, and rotating the key revokes it), valid for
``STREAM_TOKEN_TTL_S``, and good for one thing only: opening a ``GET /graphql`` SSE stream
(``?access_token=…``) with the viewer role. The gateway logs paths without their query string.
"""

from __future__ import annotations

import base64
import dataclasses
import functools
import hashlib
import hmac
import json
import time
from typing import TYPE_CHECKING

from starlette.datastructures import QueryParams

from gateway.core.caller import ANONYMOUS, APPROVER, AWAITING_INIT, VIEWER, Caller
from gateway.core.scope import ClientScope
from gateway.http.guards import send_error

if TYPE_CHECKING:
    from starlette.types import ASGIApp, Receive, Scope, Send

    from gateway.config import AuthConfig, ClientConfig

__all__ = [
    "ANONYMOUS",
    "APPROVER",
    "AWAITING_INIT",
    "STREAM_TOKEN_PATH",
    "STREAM_TOKEN_TTL_S",
    "VIEWER",
    "AuthMiddleware",
    "authenticate",
    "authenticate_connection",
    "authenticate_stream_token",
    "stream_token",
]


_CHALLENGE = [(b"www-authenticate", b'Bearer realm="execution-gateway"')]
STREAM_TOKEN_PATH = "/graphql/stream-token"  # noqa: S105 a path, not a secret
STREAM_TOKEN_TTL_S = 60
"""Long enough to open a stream (and for EventSource's own quick reconnects), short enough
that a token seen in a log or a history is useless by the time anyone reads it."""
_STREAM_PURPOSE = b"sse-stream"
_MAX_TOKEN_CHARS = 512


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
            found = _caller(client)
    return found


@functools.lru_cache(maxsize=1024)
def _caller(client: ClientConfig) -> Caller:
    """The caller a configured client is, its scope built once."""
    scope = None
    if client.scope is not None:
        scope = ClientScope.of({name: "*" if p is None else p for name, p in client.scope})
    return Caller(client.name, client.roles, reviewer_id=client.reviewer_id, scope=scope)


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


def _stream_signature(key: str, name_part: str, expires: int) -> str:
    message = b"|".join((_STREAM_PURPOSE, name_part.encode(), str(expires).encode()))
    digest = hmac.new(key.encode(), message, hashlib.sha256).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode()


def stream_token(caller: Caller, key: str, now: float | None = None) -> tuple[str, int]:
    """A stream token for ``caller`` (whose API key is ``key``), and when it expires (Unix s)."""
    expires = int(now if now is not None else time.time()) + STREAM_TOKEN_TTL_S
    name_part = base64.urlsafe_b64encode(caller.name.encode()).rstrip(b"=").decode()
    return f"v1.{name_part}.{expires}.{_stream_signature(key, name_part, expires)}", expires


def authenticate_stream_token(
    config: AuthConfig, token: str, now: float | None = None
) -> Caller | None:
    """The caller a valid, unexpired stream token names, with the viewer role only."""
    parts = token.split(".") if len(token) <= _MAX_TOKEN_CHARS else []
    if len(parts) != 4 or parts[0] != "v1" or not parts[2].isdigit():
        return None
    _, name_part, expires_text, signature = parts
    expires = int(expires_text)
    if expires < (now if now is not None else time.time()):
        return None
    try:
        name = base64.urlsafe_b64decode(name_part + "=" * (-len(name_part) % 4)).decode()
    except ValueError:
        return None
    for client in config.clients:
        if client.name == name and VIEWER in client.roles:
            expected = _stream_signature(client.key, name_part, expires)
            if hmac.compare_digest(expected.encode(), signature.encode()):
                # The client's own caller (its scope too), with the one role a stream needs.
                return dataclasses.replace(_caller(client), roles=frozenset({VIEWER}))
    return None


def _key_of(config: AuthConfig, caller: Caller) -> str | None:
    return next((c.key for c in config.clients if c.name == caller.name), None)


def _event_stream_token(scope: Scope) -> str | None:
    """The ``access_token`` of a GET that asks for an event stream (the one place it counts)."""
    if scope["method"] != "GET" or scope["path"] != "/graphql":
        return None
    accepts = [v for n, v in scope["headers"] if n == b"accept"]
    if not any(b"text/event-stream" in value for value in accepts):
        return None
    return QueryParams(scope.get("query_string", b"")).get("access_token")


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
        token = _event_stream_token(scope) if kind == "http" and header is None else None
        if token is not None and self.config.mode != "none":
            caller = authenticate_stream_token(self.config, token)
        else:
            caller = authenticate(self.config, header)
        if caller is None:
            if kind == "websocket":  # refused before the handshake: the client sees HTTP 403
                await send({"type": "websocket.close", "code": 4401})
            else:
                await _unauthenticated(send)
            return
        scope.setdefault("state", {})["caller"] = caller
        if kind == "http" and scope["path"] == STREAM_TOKEN_PATH:
            await self._answer_stream_token(scope, caller, send)
            return
        await self.app(scope, receive, send)

    async def _answer_stream_token(self, scope: Scope, caller: Caller, send: Send) -> None:
        """``POST /graphql/stream-token`` with an API key: a stream token for EventSource."""
        if scope["method"] != "POST":
            await send_error(
                send,
                405,
                "POST here with your API key.",
                "BAD_USER_INPUT",
                headers=[(b"allow", b"POST")],
            )
            return
        key = _key_of(self.config, caller)
        if key is None or VIEWER not in caller.roles or self.config.mode == "none":
            await send_error(
                send,
                400,
                "No stream token is needed or given here: auth.mode is 'none', or this caller "
                "may not subscribe.",
                "BAD_USER_INPUT",
            )
            return
        token, expires = stream_token(caller, key)
        body = json.dumps({"token": token, "expiresAt": expires}).encode()
        headers = [
            (b"content-type", b"application/json"),
            (b"content-length", str(len(body)).encode()),
            (b"cache-control", b"no-store"),
        ]
        await send({"type": "http.response.start", "status": 200, "headers": headers})
        await send({"type": "http.response.body", "body": body})


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
