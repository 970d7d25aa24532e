"""Webhook signatures per vendor: the documented framing verifies, every other form is refused.

Each case is the bytes a sender (or a forger) would put in the header: short, long, empty,
upper-case, bare, byte-flipped, sent twice. Nothing here is mocked: ``verify`` is a function of
the body, the header values and the secrets.
"""

from __future__ import annotations

import hashlib
import hmac

import pytest

from adapters.model import SourceKind
from gateway.live.signatures import SIGNATURE_SCHEMES, Signature, verify

BODY = b'{"eventId":"evt_1","seq":1,"type":"execution.completed","executionId":"exe_1"}'
SECRET = "whsec_current"
KINDS = sorted(SIGNATURE_SCHEMES, key=lambda kind: kind.value)


def digest(body: bytes = BODY, secret: str = SECRET) -> str:
    return hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def flipped(hex_digest: str, at: int) -> str:
    """The digest with one byte (at ``at``, negative from the end) changed."""
    raw = bytearray(bytes.fromhex(hex_digest))
    raw[at] ^= 0x01
    return raw.hex()


MALFORMED = {
    "empty prefix only": "sha256=",
    "empty value": "",
    "short": "sha256=" + digest()[:-1],
    "short by a byte": "sha256=" + digest()[:-2],
    "long": "sha256=" + digest() + "0",
    "long by a byte": "sha256=" + digest() + "00",
    "upper-case prefix": "SHA256=" + digest(),
    "upper-case digest": "sha256=" + digest().upper(),
    "other algorithm": "sha1=" + digest(),
    "prefix twice": "sha256=sha256=" + digest(),
    "leading space": " sha256=" + digest(),
    "trailing newline": "sha256=" + digest() + "\n",
    "not hex": "sha256=" + "z" * 64,
    "two joined by a comma": f"sha256={digest()},sha256={digest()}",
    "the secret itself": SECRET,
}


@pytest.mark.parametrize("kind", KINDS)
def test_the_documented_framing_verifies(kind: SourceKind) -> None:
    assert verify(kind, BODY, ["sha256=" + digest()], [SECRET]) is Signature.VALID


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("form", sorted(MALFORMED))
def test_every_malformed_form_is_refused(kind: SourceKind, form: str) -> None:
    assert verify(kind, BODY, [MALFORMED[form]], [SECRET]) is Signature.MALFORMED


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("at", [0, 15, -2, -1])
def test_a_byte_flipped_digest_is_refused(kind: SourceKind, at: int) -> None:
    presented = "sha256=" + flipped(digest(), at)
    assert verify(kind, BODY, [presented], [SECRET]) is Signature.MISMATCH


@pytest.mark.parametrize("kind", KINDS)
def test_the_bare_digest_is_truthlocks_only(kind: SourceKind) -> None:
    expected = Signature.VALID if kind is SourceKind.TRUTHLOCKS else Signature.MALFORMED
    assert verify(kind, BODY, [digest()], [SECRET]) is expected
    if kind is SourceKind.TRUTHLOCKS:
        assert verify(kind, BODY, [flipped(digest(), -1)], [SECRET]) is Signature.MISMATCH
        assert verify(kind, BODY, [digest()[:-1]], [SECRET]) is Signature.MALFORMED


@pytest.mark.parametrize("kind", KINDS)
def test_a_header_sent_twice_is_refused_even_when_one_is_valid(kind: SourceKind) -> None:
    good, bad = "sha256=" + digest(), "sha256=" + "0" * 64
    assert verify(kind, BODY, [bad, good], [SECRET]) is Signature.REPEATED
    assert verify(kind, BODY, [good, bad], [SECRET]) is Signature.REPEATED
    assert verify(kind, BODY, [good, good], [SECRET]) is Signature.REPEATED


@pytest.mark.parametrize("kind", KINDS)
def test_no_header_is_missing(kind: SourceKind) -> None:
    assert verify(kind, BODY, [], [SECRET]) is Signature.MISSING


@pytest.mark.parametrize("kind", KINDS)
def test_another_body_or_secret_does_not_verify(kind: SourceKind) -> None:
    presented = ["sha256=" + digest()]
    assert verify(kind, BODY + b" ", presented, [SECRET]) is Signature.MISMATCH
    assert verify(kind, BODY, presented, ["whsec_other"]) is Signature.MISMATCH
    assert verify(kind, BODY, presented, []) is Signature.MISMATCH


@pytest.mark.parametrize("kind", KINDS)
def test_every_rotated_secret_verifies_whichever_comes_first(kind: SourceKind) -> None:
    previous = "whsec_previous"
    for secrets in ([SECRET, previous], [previous, SECRET]):
        assert verify(kind, BODY, ["sha256=" + digest()], secrets) is Signature.VALID
        assert verify(kind, BODY, ["sha256=" + digest(secret=previous)], secrets) is (
            Signature.VALID
        )


def test_each_kind_names_its_lower_case_header() -> None:
    assert {kind: scheme.header for kind, scheme in SIGNATURE_SCHEMES.items()} == {
        SourceKind.ROTAVISION: "x-rotavision-signature",
        SourceKind.VELT: "x-velt-signature",
        SourceKind.TRUTHLOCKS: "x-truthlocks-signature",
    }
