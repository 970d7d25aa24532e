"""Webhook signatures per vendor: the documented framing verifies, every other form is refused.

Each case is the bytes a sender (or a forger) would put in the header: short, long, empty,
upper-case, bare, byte-flipped, sent twice. Nothing here is mocked: ``verify`` is a function of
the body, the header values and the secrets.
"""

from __future__ import annotations

import hashlib
import hmac
import json

import pytest

from adapters.declarations import UrlToken
from adapters.langgraph import LangGraphAdapter
from adapters.model import SourceKind
from adapters.registry import ADAPTERS
from gateway.live.signatures import Signature, verify, verify_token

BODY = b'{"eventId":"evt_1","seq":1,"type":"execution.completed","executionId":"exe_1"}'
SECRET = "whsec_current"
WEBHOOKS = {
    kind: adapter.webhooks
    for kind, adapter in ADAPTERS.items()
    if adapter.webhooks and adapter.webhooks.signature_header
}
"""Each kind's declaration (``Webhooks`` on its adapter): the kinds that sign their webhooks."""
KINDS = sorted(WEBHOOKS, key=lambda kind: kind.value)


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
    assert verify(WEBHOOKS[kind], BODY, ["sha256=" + digest()], [SECRET]) is Signature.VALID


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("form", sorted(MALFORMED))
def test_every_malformed_form_is_refused(kind: SourceKind, form: str) -> None:
    assert verify(WEBHOOKS[kind], BODY, [MALFORMED[form]], [SECRET]) is Signature.MALFORMED


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("at", [0, 15, -2, -1])
def test_a_byte_flipped_digest_is_refused(kind: SourceKind, at: int) -> None:
    presented = "sha256=" + flipped(digest(), at)
    assert verify(WEBHOOKS[kind], BODY, [presented], [SECRET]) is Signature.MISMATCH


@pytest.mark.parametrize("kind", KINDS)
def test_the_bare_digest_is_truthlocks_only(kind: SourceKind) -> None:
    expected = Signature.VALID if kind is SourceKind.TRUTHLOCKS else Signature.MALFORMED
    assert verify(WEBHOOKS[kind], BODY, [digest()], [SECRET]) is expected
    if kind is SourceKind.TRUTHLOCKS:
        assert verify(WEBHOOKS[kind], BODY, [flipped(digest(), -1)], [SECRET]) is Signature.MISMATCH
        assert verify(WEBHOOKS[kind], BODY, [digest()[:-1]], [SECRET]) is Signature.MALFORMED


@pytest.mark.parametrize("kind", KINDS)
def test_a_header_sent_twice_is_refused_even_when_one_is_valid(kind: SourceKind) -> None:
    good, bad = "sha256=" + digest(), "sha256=" + "0" * 64
    assert verify(WEBHOOKS[kind], BODY, [bad, good], [SECRET]) is Signature.REPEATED
    assert verify(WEBHOOKS[kind], BODY, [good, bad], [SECRET]) is Signature.REPEATED
    assert verify(WEBHOOKS[kind], BODY, [good, good], [SECRET]) is Signature.REPEATED


@pytest.mark.parametrize("kind", KINDS)
def test_no_header_is_missing(kind: SourceKind) -> None:
    assert verify(WEBHOOKS[kind], BODY, [], [SECRET]) is Signature.MISSING


@pytest.mark.parametrize("kind", KINDS)
def test_another_body_or_secret_does_not_verify(kind: SourceKind) -> None:
    presented = ["sha256=" + digest()]
    assert verify(WEBHOOKS[kind], BODY + b" ", presented, [SECRET]) is Signature.MISMATCH
    assert verify(WEBHOOKS[kind], BODY, presented, ["whsec_other"]) is Signature.MISMATCH
    assert verify(WEBHOOKS[kind], BODY, presented, []) is Signature.MISMATCH


@pytest.mark.parametrize("kind", KINDS)
def test_every_rotated_secret_verifies_whichever_comes_first(kind: SourceKind) -> None:
    previous = "whsec_previous"
    for secrets in ([SECRET, previous], [previous, SECRET]):
        assert verify(WEBHOOKS[kind], BODY, ["sha256=" + digest()], secrets) is Signature.VALID
        assert verify(WEBHOOKS[kind], BODY, ["sha256=" + digest(secret=previous)], secrets) is (
            Signature.VALID
        )


def test_each_kind_names_its_lower_case_header() -> None:
    assert {kind: webhooks.signature_header for kind, webhooks in WEBHOOKS.items()} == {
        SourceKind.ROTAVISION: "x-rotavision-signature",
        SourceKind.VELT: "x-velt-signature",
        SourceKind.TRUTHLOCKS: "x-truthlocks-signature",
    }


# -- URL tokens: a sender that signs nothing (LangGraph), its URL bound to a value of the body ---

THREAD = "0b9ee3a4-3c57-4f8e-9a41-7d3c1b0b2a11"
OTHER_THREAD = "5f0c8f3e-92b1-4c53-8f7e-3c2d9a1e6b40"
RUN_BODY = json.dumps({"run_id": "r-1", "thread_id": THREAD, "status": "success"}).encode()
TOKENED = {kind: a.webhooks for kind, a in ADAPTERS.items() if a.webhooks and a.webhooks.url_token}
"""The kinds authenticated by a URL token."""


def url_token() -> UrlToken:
    token = LangGraphAdapter.webhooks.url_token if LangGraphAdapter.webhooks else None
    assert token is not None
    return token


def token(value: str = THREAD, secret: str = SECRET) -> str:
    return hmac.new(secret.encode(), value.encode(), hashlib.sha256).hexdigest()


def test_only_the_kinds_that_sign_nothing_declare_a_url_token() -> None:
    assert set(TOKENED) == {SourceKind.LANGGRAPH}
    assert set(TOKENED).isdisjoint(WEBHOOKS)
    assert url_token().parameter == "token"


def test_the_token_is_the_hmac_of_the_thread_the_body_names() -> None:
    assert UrlToken.token(SECRET, THREAD) == token()
    assert verify_token(url_token(), RUN_BODY, [token()], [SECRET]) is Signature.VALID


def test_a_token_for_another_thread_or_secret_is_a_mismatch() -> None:
    for presented in (token(OTHER_THREAD), token(secret="whsec_other"), flipped(token(), -1)):
        assert verify_token(url_token(), RUN_BODY, [presented], [SECRET]) is Signature.MISMATCH
    assert verify_token(url_token(), RUN_BODY, [token()], []) is Signature.MISMATCH


@pytest.mark.parametrize(
    "body",
    [
        b"not json",
        b"[]",
        b'{"run_id": "r-1", "status": "success"}',
        b'{"thread_id": 7}',
        b'{"thread_id": ""}',
    ],
)
def test_a_body_naming_no_thread_matches_no_token(body: bytes) -> None:
    assert verify_token(url_token(), body, [token()], [SECRET]) is Signature.MISMATCH


@pytest.mark.parametrize(
    "presented",
    [
        "",
        token()[:-1],
        token() + "0",
        token().upper(),
        "sha256=" + token(),
        "z" * 64,
        " " + token(),
    ],
)
def test_every_malformed_token_is_refused_before_the_body_is_read(presented: str) -> None:
    assert verify_token(url_token(), b"not json", [presented], [SECRET]) is Signature.MALFORMED


def test_no_token_is_missing_and_two_are_repeated_whichever_is_valid() -> None:
    assert verify_token(url_token(), RUN_BODY, [], [SECRET]) is Signature.MISSING
    good, bad = token(), token(OTHER_THREAD)
    for values in ([good, bad], [bad, good], [good, good]):
        assert verify_token(url_token(), RUN_BODY, values, [SECRET]) is Signature.REPEATED


def test_every_rotated_secret_verifies_a_token_whichever_comes_first() -> None:
    previous = "whsec_previous"
    for secrets in ([SECRET, previous], [previous, SECRET]):
        for presented in (token(), token(secret=previous)):
            assert verify_token(url_token(), RUN_BODY, [presented], secrets) is Signature.VALID


def test_a_declaration_is_authenticated_exactly_one_way() -> None:
    velt = WEBHOOKS[SourceKind.VELT]
    assert velt.signature is not None
    with pytest.raises(ValueError, match="one way"):
        type(velt)("x-sig", velt.signature, velt.read_event, url_token=url_token())
    with pytest.raises(ValueError, match="one way"):
        type(velt)(None, None, velt.read_event)
    with pytest.raises(ValueError, match="one way"):
        type(velt)("x-sig", None, velt.read_event, url_token=url_token())
    with pytest.raises(ValueError, match="one way"):
        type(velt)(None, velt.signature, velt.read_event)


def test_a_url_token_declaration_verifies_no_signature_header() -> None:
    """Handed to the header check by mistake, it refuses rather than reads a framing it lacks."""
    (tokened,) = TOKENED.values()
    assert verify(tokened, BODY, ["sha256=" + digest()], [SECRET]) is Signature.MALFORMED
