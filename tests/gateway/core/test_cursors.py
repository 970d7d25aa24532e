"""Signed cursors (gateway/core/cursors.py): round trip, and every forgery refused."""

from __future__ import annotations

import base64
import json

import pytest

from gateway.core.cursors import MAX_CURSOR_LENGTH, CursorCodec, InvalidCursor

KIND = "executionFeed"
STATE = {"v": 1, "s": {"rv": ["c2", 3, "exec_1"]}}
# STATE as CursorCodec(b"s" * 32) has always written it: compact, sorted JSON, then a 16-byte MAC
# over kind NUL payload. Changing the format breaks every open cursor across a rolling deploy.
PINNED = "eyJzIjp7InJ2IjpbImMyIiwzLCJleGVjXzEiXX0sInYiOjF9.PUZLP2HqG1QLMrZ3FlzxSQ"
NOT_ISSUED = r"^the cursor is not one this gateway issued$"


@pytest.fixture
def codec() -> CursorCodec:
    return CursorCodec(b"s" * 32)


def test_a_cursor_round_trips_and_is_stable(codec: CursorCodec) -> None:
    cursor = codec.encode(KIND, STATE)
    assert codec.decode(KIND, cursor) == STATE
    assert codec.encode(KIND, STATE) == cursor
    assert "=" not in cursor  # URL-safe, unpadded


def test_the_wire_format_is_pinned(codec: CursorCodec) -> None:
    assert codec.encode(KIND, STATE) == PINNED
    assert codec.decode(KIND, PINNED) == STATE
    body, mac = PINNED.split(".")
    assert base64.urlsafe_b64decode(body + "==") == b'{"s":{"rv":["c2",3,"exec_1"]},"v":1}'
    assert len(base64.urlsafe_b64decode(mac + "==")) == 16


def test_the_same_state_in_another_key_order_gives_the_same_cursor(codec: CursorCodec) -> None:
    reordered = {"s": {"rv": ["c2", 3, "exec_1"]}, "v": 1}
    assert list(reordered) != list(STATE)
    assert codec.encode(KIND, reordered) == PINNED


def test_a_cursor_is_good_only_for_its_own_connection(codec: CursorCodec) -> None:
    cursor = codec.encode(KIND, STATE)
    with pytest.raises(
        InvalidCursor, match=r"^the cursor is not one this gateway issued for this list$"
    ):
        codec.decode("pendingApprovals", cursor)


def test_another_deployments_cursor_is_refused(codec: CursorCodec) -> None:
    foreign = CursorCodec(b"t" * 32).encode(KIND, STATE)
    with pytest.raises(InvalidCursor):
        codec.decode(KIND, foreign)


def test_without_a_secret_each_codec_draws_its_own() -> None:
    cursor = CursorCodec().encode(KIND, STATE)
    with pytest.raises(InvalidCursor):
        CursorCodec().decode(KIND, cursor)


def test_a_changed_state_with_its_old_mac_is_refused(codec: CursorCodec) -> None:
    _, mac = codec.encode(KIND, STATE).split(".")
    forged = json.dumps({**STATE, "v": 2}, separators=(",", ":")).encode()
    body = base64.urlsafe_b64encode(forged).decode().rstrip("=")
    with pytest.raises(InvalidCursor):
        codec.decode(KIND, f"{body}.{mac}")


@pytest.mark.parametrize(
    "damage",
    [
        pytest.param(lambda c: c[:-1], id="truncated-mac"),
        pytest.param(lambda c: c.replace(".", ""), id="no-dot"),
        pytest.param(lambda c: c.split(".")[0], id="body-only"),
        pytest.param(lambda c: "%%%." + c.split(".")[1], id="not-base64"),
        pytest.param(lambda c: "", id="empty"),
        pytest.param(lambda c: c + "A", id="longer-mac"),
    ],
)
def test_damaged_cursors_are_refused(codec: CursorCodec, damage: object) -> None:
    assert callable(damage)
    with pytest.raises(InvalidCursor):
        codec.decode(KIND, damage(codec.encode(KIND, STATE)))


def test_a_dot_inside_the_body_is_refused(codec: CursorCodec) -> None:
    """The first dot ends the body (base64 decoding skips stray dots: a split at the last would
    read the state whole and accept it)."""
    body, mac = PINNED.split(".")
    with pytest.raises(InvalidCursor):
        codec.decode(KIND, f"{body[:8]}.{body[8:]}.{mac}")


def test_undecodable_base64_is_refused_as_not_issued(codec: CursorCodec) -> None:
    _, mac = PINNED.split(".")
    with pytest.raises(InvalidCursor, match=NOT_ISSUED):
        codec.decode(KIND, f"AAAAA.{mac}")  # five characters: no padding makes that base64


def test_an_overlong_cursor_is_refused_before_any_decoding(codec: CursorCodec) -> None:
    with pytest.raises(
        InvalidCursor, match=r"^the cursor is too long to be one this gateway issued$"
    ):
        codec.decode(KIND, "A" * (MAX_CURSOR_LENGTH + 1))


def test_a_cursor_of_exactly_the_bound_is_checked_not_refused_as_long(codec: CursorCodec) -> None:
    assert MAX_CURSOR_LENGTH == 4096
    at_bound = "A" * 4072 + "." + "A" * 23  # decodable base64, a wrong MAC
    assert len(at_bound) == MAX_CURSOR_LENGTH
    with pytest.raises(InvalidCursor, match="for this list"):
        codec.decode(KIND, at_bound)


def test_a_signed_state_that_is_not_an_object_is_refused(codec: CursorCodec) -> None:
    payload = b"[1,2]"
    body = base64.urlsafe_b64encode(payload).decode().rstrip("=")
    mac = base64.urlsafe_b64encode(codec._mac(KIND, payload)).decode().rstrip("=")
    with pytest.raises(InvalidCursor, match=NOT_ISSUED):
        codec.decode(KIND, f"{body}.{mac}")


def test_decode_as_builds_the_typed_position_or_refuses_its_shape(codec: CursorCodec) -> None:
    def load(state: dict[str, object]) -> int:
        value = state["n"]
        if not isinstance(value, int):
            raise ValueError("n is a count")
        return value

    assert codec.decode_as(KIND, codec.encode(KIND, {"n": 4}), load) == 4
    for state in ({"n": "4"}, {"m": 4}):
        with pytest.raises(InvalidCursor, match=NOT_ISSUED):
            codec.decode_as(KIND, codec.encode(KIND, state), load)
