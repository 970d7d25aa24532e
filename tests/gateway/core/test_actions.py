"""What every gateway write shares (gateway/core/actions.py): the audit log and the replicas'
guard, on the real shared states (memory with a clock the test moves; a real ``redis-server``
stopped mid-send). Written for issue #35: the decision and run-control tests use these only
through the use cases, where most of their details cannot be seen."""

from __future__ import annotations

import hashlib
import json
import logging
from datetime import UTC, datetime
from typing import TYPE_CHECKING

import pytest

from gateway.core.actions import AuditLog, ReplicaGuard, digest
from gateway.state.memory import MemoryState
from gateway.state.redis import RedisState

if TYPE_CHECKING:
    from pathlib import Path

    from tests.redis_server import RedisServer

LOCK_TTL_S = 30.0
WAIT_S = 1.0
POLL_S = 0.25
KEEP_TTL_S = 90.0


def test_a_digest_is_the_sha256_of_the_parts_one_per_line() -> None:
    assert digest("a", "b") == hashlib.sha256(b"a\nb").hexdigest()
    assert digest("only") == hashlib.sha256(b"only").hexdigest()
    assert digest("a", "b") != digest("b", "a")


# --- the audit log -----------------------------------------------------------------------------


def test_a_record_is_one_compact_json_line_in_the_file_and_one_log_record(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    path = tmp_path / "audit.jsonl"
    audit = AuditLog(path)
    at = datetime(2026, 1, 1, tzinfo=UTC)
    with caplog.at_level(logging.INFO, logger="gateway.audit"):
        audit.record(caller="ops", at=at)
        audit.record(event="run_control", caller="dev", key=None)
    audit.close()
    assert path.read_text(encoding="utf-8").splitlines() == [
        '{"event":"decision","caller":"ops","at":"2026-01-01 00:00:00+00:00"}',
        '{"event":"run_control","caller":"dev","key":null}',
    ]
    # The file's records reach the file alone: the log sees each attempt once.
    assert [(r.name, r.levelno) for r in caplog.records] == [("gateway.audit", logging.INFO)] * 2
    assert caplog.records[1].getMessage() == '{"event":"run_control","caller":"dev","key":null}'
    assert caplog.records[1].audit == {"event": "run_control", "caller": "dev", "key": None}  # type: ignore[attr-defined]


def test_after_close_nothing_more_reaches_the_file(tmp_path: Path) -> None:
    path = tmp_path / "audit.jsonl"
    audit = AuditLog(path)
    audit.record(n=1)
    audit.close()
    audit.record(n=2)  # still logged, no longer written
    audit.close()  # twice is harmless
    assert [json.loads(line)["n"] for line in path.read_text().splitlines()] == [1]
    again = AuditLog(path)
    again.record(n=3)  # a new log appends
    again.close()
    assert [json.loads(line)["n"] for line in path.read_text().splitlines()] == [1, 3]


def test_without_a_file_records_go_to_the_log_only(caplog: pytest.LogCaptureFixture) -> None:
    audit = AuditLog(None)
    with caplog.at_level(logging.INFO, logger="gateway.audit"):
        audit.record(caller="ops")
    audit.close()
    assert [r.getMessage() for r in caplog.records] == ['{"event":"decision","caller":"ops"}']


# --- the replicas' guard -----------------------------------------------------------------------


class Clock:
    def __init__(self) -> None:
        self.now = 500.0

    def __call__(self) -> float:
        return self.now


class Guarded:
    """A ReplicaGuard on one shared state, its counted waits, and counted sends."""

    def __init__(self, shared: MemoryState | RedisState) -> None:
        self.shared = shared
        self.slept: list[float] = []
        self.sent = 0
        self.unguarded = 0
        self.guard = ReplicaGuard[str](
            shared,
            "ns",
            lock_ttl_s=LOCK_TTL_S,
            wait_s=WAIT_S,
            poll_s=POLL_S,
            sleep=self.sleep,
        )

    async def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)

    async def send(self) -> str:
        self.sent += 1
        return f"answer-{self.sent}"

    async def once(self, key: str = "k", *, keep: bool = True) -> str:
        async def unguarded() -> str:
            self.unguarded += 1
            return "unguarded"

        return await self.guard.once(
            key,
            self.send,
            confirmed=lambda payload: payload.decode() if payload != b"unreadable" else None,
            keep=lambda answer: answer.encode() if keep else None,
            keep_ttl_s=KEEP_TTL_S,
            busy=lambda: "busy",
            unguarded=unguarded,
        )


def test_the_keys_are_namespaced() -> None:
    guard = ReplicaGuard[str](MemoryState(), "run", lock_ttl_s=1, wait_s=1, poll_s=1)
    assert guard.keys("start:k") == ("run:lock:start:k", "run:confirmed:start:k")


async def test_one_send_whose_answer_is_kept_for_its_ttl_and_the_lock_released() -> None:
    clock = Clock()
    guarded = Guarded(MemoryState(clock=clock))
    assert await guarded.once() == "answer-1"
    assert await guarded.shared.get("ns:confirmed:k") == b"answer-1"
    assert await guarded.shared.acquire("ns:lock:k", "someone-else", 1.0)  # released
    await guarded.shared.release("ns:lock:k", "someone-else")
    clock.now += KEEP_TTL_S - 1
    assert await guarded.once() == "answer-1"  # the kept answer, no second send
    assert await guarded.once("other") == "answer-2"  # another key is another action
    clock.now += 2
    assert await guarded.once() == "answer-3"
    assert guarded.slept == []


async def test_an_answer_not_worth_keeping_is_not_kept() -> None:
    guarded = Guarded(MemoryState())
    assert await guarded.once(keep=False) == "answer-1"
    assert await guarded.shared.get("ns:confirmed:k") is None
    assert await guarded.once(keep=False) == "answer-2"


async def test_a_record_this_build_cannot_read_is_sent_again() -> None:
    guarded = Guarded(MemoryState())
    await guarded.shared.set("ns:confirmed:k", b"unreadable", 60.0)
    assert await guarded.once() == "answer-1"


async def test_the_lock_expires_by_itself_after_its_ttl() -> None:
    clock = Clock()
    shared = MemoryState(clock=clock)
    guarded = Guarded(shared)
    held: list[bool] = []

    async def send() -> str:
        held.append(not await shared.acquire("ns:lock:k", "other", 1.0))
        clock.now += LOCK_TTL_S - 1
        held.append(not await shared.acquire("ns:lock:k", "other", 1.0))
        clock.now += 2
        held.append(not await shared.acquire("ns:lock:k", "other", 1.0))
        return "sent"

    guarded.send = send  # type: ignore[method-assign]
    assert await guarded.once(keep=False) == "sent"
    assert held == [True, True, False]


async def test_a_lock_held_elsewhere_is_waited_for_a_bounded_time_then_busy() -> None:
    guarded = Guarded(MemoryState())
    assert await guarded.shared.acquire("ns:lock:k", "a-replica-that-hangs", 600.0)
    assert await guarded.once() == "busy"
    assert guarded.slept == [POLL_S] * int(WAIT_S / POLL_S)
    assert guarded.sent == 0


async def test_a_replica_that_confirms_while_another_waits_answers_both() -> None:
    shared = MemoryState()
    guarded = Guarded(shared)
    assert await shared.acquire("ns:lock:k", "the-sender", 600.0)

    async def sender_confirms(seconds: float) -> None:
        guarded.slept.append(seconds)
        if len(guarded.slept) == 2:
            await shared.set("ns:confirmed:k", b"theirs", 60.0)
            await shared.release("ns:lock:k", "the-sender")

    guarded.guard = ReplicaGuard[str](
        shared, "ns", lock_ttl_s=LOCK_TTL_S, wait_s=WAIT_S, poll_s=POLL_S, sleep=sender_confirms
    )
    assert await guarded.once() == "theirs"
    assert (guarded.sent, len(guarded.slept)) == (0, 2)


async def test_a_confirmed_answer_is_given_at_once_while_its_sender_still_holds_the_lock() -> None:
    """The sender kept its answer and has not released the lock yet: no wait, no send."""
    guarded = Guarded(MemoryState())
    await guarded.shared.set("ns:confirmed:k", b"theirs", 60.0)
    assert await guarded.shared.acquire("ns:lock:k", "the-sender", 600.0)
    assert await guarded.once() == "theirs"
    assert (guarded.sent, guarded.slept) == (0, [])


async def test_a_confirmation_that_lands_as_the_lock_is_taken_is_not_sent_again() -> None:
    """The other replica confirmed and released between this one's look and its lock."""
    shared = MemoryState()
    guarded = Guarded(shared)
    acquire = shared.acquire

    async def confirmed_just_before(key: str, owner: str, ttl_s: float) -> bool:
        await shared.set("ns:confirmed:k", b"theirs", 60.0)
        return await acquire(key, owner, ttl_s)

    shared.acquire = confirmed_just_before  # type: ignore[method-assign]
    assert await guarded.once() == "theirs"
    assert guarded.sent == 0
    shared.acquire = acquire  # type: ignore[method-assign]
    assert await shared.acquire("ns:lock:k", "someone-else", 1.0)  # released


async def test_a_failed_send_releases_the_lock() -> None:
    guarded = Guarded(MemoryState())

    async def send() -> str:
        raise RuntimeError("the send itself broke")

    guarded.send = send  # type: ignore[method-assign]
    with pytest.raises(RuntimeError):
        await guarded.once()
    assert await guarded.shared.acquire("ns:lock:k", "someone-else", 1.0)


async def test_with_the_shared_state_away_the_unguarded_answer_is_given() -> None:
    away = RedisState("redis://127.0.0.1:9/0", timeout_s=0.2)
    try:
        guarded = Guarded(away)
        assert await guarded.once() == "unguarded"
        assert (guarded.unguarded, guarded.sent) == (1, 0)
    finally:
        await away.aclose()


async def test_a_shared_state_lost_mid_send_still_answers(redis_server: RedisServer) -> None:
    """Redis stops while the upstream call is out: the answer stands; keeping it and releasing
    the lock fail quietly (the lock expires by itself)."""
    shared = RedisState(redis_server.url, timeout_s=0.5)
    try:
        guarded = Guarded(shared)

        async def send() -> str:
            redis_server.stop()
            return "sent"

        guarded.send = send  # type: ignore[method-assign]
        assert await guarded.once() == "sent"
        assert guarded.unguarded == 0
    finally:
        await shared.aclose()
