"""Webhook signatures: HMAC-SHA256 of the raw body, in the kind's framing, in constant time.

Each kind declares its header and framing (``Webhooks`` on its adapter, docs/live.md). Any other
form is malformed and refused before any HMAC is computed, and so is a header sent twice (which
one would count is a proxy's choice). Every configured secret is tried, so a rotation can keep the
previous one valid for a while.

A sender that signs nothing is given a URL token instead (``UrlToken``): the HMAC of one value of
the body (LangGraph's thread id), checked the same way: one bare digest, every secret, constant
time. A token proves only that the gateway handed out that URL for that value.
"""

from __future__ import annotations

import hashlib
import hmac
from enum import StrEnum
from typing import TYPE_CHECKING, Any

import orjson

from adapters.declarations import BARE_SHA256

if TYPE_CHECKING:
    from collections.abc import Sequence

    from adapters.declarations import UrlToken, Webhooks

__all__ = ["Signature", "verify", "verify_token"]


class Signature(StrEnum):
    """What a delivery's signature header(s) came to; only VALID lets the body be read."""

    VALID = "valid"
    MISSING = "missing"
    REPEATED = "repeated"
    MALFORMED = "malformed"
    MISMATCH = "mismatch"


def verify(
    webhooks: Webhooks, body: bytes, values: Sequence[str], secrets: Sequence[str]
) -> Signature:
    """Whether ``values`` (every value of the kind's signature header) is one HMAC of ``body``
    under one of ``secrets``."""
    if not values:
        return Signature.MISSING
    if len(values) > 1:
        return Signature.REPEATED
    framed = webhooks.signature.fullmatch(values[0]) if webhooks.signature else None
    if framed is None:
        return Signature.MALFORMED
    given = bytes.fromhex(framed.group(1))
    matched = False
    for secret in secrets:  # every one, so the time taken does not say which matched
        expected = hmac.new(secret.encode(), body, hashlib.sha256).digest()
        matched |= hmac.compare_digest(given, expected)
    return Signature.VALID if matched else Signature.MISMATCH


def verify_token(
    token: UrlToken, body: bytes, values: Sequence[str], secrets: Sequence[str]
) -> Signature:
    """Whether ``values`` (every value of the token's query parameter) is the token of the value
    ``body`` is bound to under one of ``secrets``. The body is parsed only for a well-formed
    token; one that is not JSON, or names no such value, matches nothing."""
    if not values:
        return Signature.MISSING
    if len(values) > 1:
        return Signature.REPEATED
    if BARE_SHA256.fullmatch(values[0]) is None:
        return Signature.MALFORMED
    bound = token.bound_to(_document(body))
    if bound is None:
        return Signature.MISMATCH
    matched = False
    for secret in secrets:  # every one, so the time taken does not say which matched
        matched |= hmac.compare_digest(values[0], token.token(secret, bound))
    return Signature.VALID if matched else Signature.MISMATCH


def _document(body: bytes) -> Any:
    try:
        return orjson.loads(body)
    except orjson.JSONDecodeError:
        return None
