"""Webhook signatures: HMAC-SHA256 of the raw body, compared in constant time.

Each kind names its header (docs/live.md); the value is ``sha256=<hex>`` (Rotavision, Velt) or
the bare hex digest (Truthlocks documents the algorithm, not the framing, so both are read).
Every configured secret is tried, so a rotation can keep the previous one valid for a while.
"""

from __future__ import annotations

import hashlib
import hmac
from typing import TYPE_CHECKING

from adapters.model import SourceKind

if TYPE_CHECKING:
    from collections.abc import Sequence

__all__ = ["SIGNATURE_HEADERS", "sign", "verify"]

SIGNATURE_HEADERS: dict[SourceKind, str] = {
    SourceKind.ROTAVISION: "x-rotavision-signature",
    SourceKind.VELT: "x-velt-signature",
    SourceKind.TRUTHLOCKS: "x-truthlocks-signature",
}
"""Lower-case header names; nesting-style sources send no webhooks."""

_PREFIX = "sha256="
_HEX_DIGEST_LENGTH = 64


def sign(secret: str, body: bytes) -> str:
    """The header value a sender puts on ``body`` (the sandbox and the tests use it)."""
    return _PREFIX + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def verify(body: bytes, header: str | None, secrets: Sequence[str]) -> bool:
    """Whether ``header`` is the HMAC of ``body`` under one of ``secrets``."""
    if not header or not secrets:
        return False
    presented = header.strip()
    if presented[: len(_PREFIX)].lower() == _PREFIX:
        presented = presented[len(_PREFIX) :]
    if len(presented) != _HEX_DIGEST_LENGTH:
        return False
    try:
        given = bytes.fromhex(presented)
    except ValueError:
        return False
    matched = False
    for secret in secrets:  # every one, so the time taken does not say which matched
        expected = hmac.new(secret.encode(), body, hashlib.sha256).digest()
        matched |= hmac.compare_digest(given, expected)
    return matched
