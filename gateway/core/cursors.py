"""Opaque, integrity-checked cursors for connections.

A cursor is ``base64url(json state) "." base64url(HMAC-SHA256(secret, kind + state))[:16 bytes]``.
Clients cannot read meaning into it or forge one: a tampered, truncated or foreign cursor (another
connection's, or another deployment's) is refused as BAD_USER_INPUT. Replicas behind one load
balancer must share ``server.cursor_secret_env``; without it each process draws its own secret and
cursors do not survive a restart.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import secrets
from typing import TYPE_CHECKING, Any, TypeVar

if TYPE_CHECKING:
    from collections.abc import Callable

__all__ = ["MAX_CURSOR_LENGTH", "CursorCodec", "InvalidCursor"]

_State = TypeVar("_State")

MAX_CURSOR_LENGTH = 4096
_MAC_BYTES = 16


class InvalidCursor(ValueError):
    """The cursor was not issued by this gateway for this connection."""


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode().rstrip("=")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


class CursorCodec:
    def __init__(self, secret: bytes | None = None) -> None:
        self._secret = secret or secrets.token_bytes(32)

    def _mac(self, kind: str, payload: bytes) -> bytes:
        return hmac.new(self._secret, kind.encode() + b"\0" + payload, hashlib.sha256).digest()[
            :_MAC_BYTES
        ]

    def encode(self, kind: str, state: dict[str, Any]) -> str:
        payload = json.dumps(state, separators=(",", ":"), sort_keys=True).encode()
        return f"{_b64(payload)}.{_b64(self._mac(kind, payload))}"

    def decode(self, kind: str, cursor: str) -> dict[str, Any]:
        if len(cursor) > MAX_CURSOR_LENGTH:
            raise InvalidCursor("the cursor is too long to be one this gateway issued")
        body, dot, mac = cursor.partition(".")
        try:
            payload, presented = _unb64(body), _unb64(mac)
        except (binascii.Error, ValueError, UnicodeError):
            raise InvalidCursor("the cursor is not one this gateway issued") from None
        if not dot or not hmac.compare_digest(presented, self._mac(kind, payload)):
            raise InvalidCursor("the cursor is not one this gateway issued for this list")
        state = json.loads(payload)
        if not isinstance(state, dict):
            raise InvalidCursor("the cursor is not one this gateway issued")
        return state

    def decode_as(self, kind: str, cursor: str, load: Callable[[dict[str, Any]], _State]) -> _State:
        """A typed position: ``load`` builds it from the state and raises ValueError on a bad shape.

        A signed state of the wrong shape comes from another version of this gateway (or a bug),
        never from a client, but it is refused the same way: the client starts again.
        """
        state = self.decode(kind, cursor)
        try:
            return load(state)
        except (ValueError, TypeError, KeyError):
            raise InvalidCursor("the cursor is not one this gateway issued") from None
