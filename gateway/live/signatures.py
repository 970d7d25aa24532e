"""Webhook signatures: HMAC-SHA256 of the raw body, in each vendor's framing, in constant time.

Each kind names its header and framing (docs/live.md): exactly ``sha256=<64 lower-case hex>``
for Rotavision and Velt, as they document it; Truthlocks documents the algorithm but not the
framing, so it may also send the bare digest. Anything else is malformed and refused before any
HMAC is computed, and so is a header sent twice (which one would count is a proxy's choice).
Every configured secret is tried, so a rotation can keep the previous one valid for a while.
"""

from __future__ import annotations

import hashlib
import hmac
import re
from dataclasses import dataclass
from enum import StrEnum
from typing import TYPE_CHECKING

from adapters.model import SourceKind

if TYPE_CHECKING:
    from collections.abc import Sequence

__all__ = ["SIGNATURE_SCHEMES", "Signature", "SignatureScheme", "verify"]


class Signature(StrEnum):
    """What a delivery's signature header(s) came to; only VALID lets the body be read."""

    VALID = "valid"
    MISSING = "missing"
    REPEATED = "repeated"
    MALFORMED = "malformed"
    MISMATCH = "mismatch"


@dataclass(frozen=True, slots=True)
class SignatureScheme:
    header: str
    """Lower-case header name."""
    framing: re.Pattern[str]
    """The whole header value; its one group is the hex digest."""


_PREFIXED = re.compile(r"sha256=([0-9a-f]{64})")
_PREFIX_OPTIONAL = re.compile(r"(?:sha256=)?([0-9a-f]{64})")

SIGNATURE_SCHEMES: dict[SourceKind, SignatureScheme] = {
    SourceKind.ROTAVISION: SignatureScheme("x-rotavision-signature", _PREFIXED),
    SourceKind.VELT: SignatureScheme("x-velt-signature", _PREFIXED),
    SourceKind.TRUTHLOCKS: SignatureScheme("x-truthlocks-signature", _PREFIX_OPTIONAL),
}
"""Nesting-style sources send no webhooks."""


def verify(
    kind: SourceKind, body: bytes, values: Sequence[str], secrets: Sequence[str]
) -> Signature:
    """Whether ``values`` (every value of the kind's header) is one HMAC of ``body`` under
    one of ``secrets``."""
    if not values:
        return Signature.MISSING
    if len(values) > 1:
        return Signature.REPEATED
    framed = SIGNATURE_SCHEMES[kind].framing.fullmatch(values[0])
    if framed is None:
        return Signature.MALFORMED
    given = bytes.fromhex(framed.group(1))
    matched = False
    for secret in secrets:  # every one, so the time taken does not say which matched
        expected = hmac.new(secret.encode(), body, hashlib.sha256).digest()
        matched |= hmac.compare_digest(given, expected)
    return Signature.VALID if matched else Signature.MISMATCH
