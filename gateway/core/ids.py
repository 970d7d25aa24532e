"""Global IDs: ``<source>:<native id>`` for executions, opaque tokens for steps and approvals.

Every id a client sends is checked here before any upstream call: a native id may hold letters,
digits and ``_ . : ~ @ + = -`` only (every documented upstream id fits), at most 200 of them, and
never be a dot segment, so no id can bend an upstream path, header or log line.
"""

from __future__ import annotations

import base64
import binascii
import json
import re
from dataclasses import dataclass

__all__ = [
    "MAX_ID_LENGTH",
    "ApprovalRef",
    "ExecutionRef",
    "InvalidId",
    "StepRef",
    "approval_id",
    "execution_id",
    "parse_execution_id",
    "parse_id",
    "step_id",
]

MAX_ID_LENGTH = 600
_SOURCE = re.compile(r"[a-z0-9-]{1,32}")
_NATIVE = re.compile(r"[A-Za-z0-9_.:~@+=-]{1,200}")
_KEY = re.compile(r"[A-Za-z0-9_.:~@+=-]{0,200}")


class InvalidId(ValueError):
    """The client sent an id the gateway cannot have issued."""


@dataclass(frozen=True, slots=True)
class ExecutionRef:
    source: str
    native_id: str


@dataclass(frozen=True, slots=True)
class StepRef:
    execution: ExecutionRef
    step_native_id: str


@dataclass(frozen=True, slots=True)
class ApprovalRef:
    execution: ExecutionRef
    key: str


def execution_id(source: str, native_id: str) -> str:
    return f"{source}:{native_id}"


def _opaque(tag: str, *parts: str) -> str:
    text = json.dumps([tag, *parts], separators=(",", ":"))
    return base64.urlsafe_b64encode(text.encode()).decode().rstrip("=")


def step_id(source: str, native_id: str, step_native_id: str) -> str:
    return _opaque("S", source, native_id, step_native_id)


def approval_id(source: str, native_id: str, key: str) -> str:
    return _opaque("A", source, native_id, key)


def parse_execution_id(value: str) -> ExecutionRef:
    source, sep, native = value.partition(":")
    if not sep:
        raise InvalidId(
            f"'{_shown(value)}' is not an execution id (expected '<source>:<native id>')"
        )
    if not _SOURCE.fullmatch(source):
        raise InvalidId(f"'{_shown(value)}' does not start with a source name")
    if not _NATIVE.fullmatch(native) or set(native) == {"."}:
        raise InvalidId(
            f"'{_shown(value)}': a native id is 1-200 letters, digits or _ . : ~ @ + = - "
            "and not a dot segment"
        )
    return ExecutionRef(source, native)


def parse_id(value: str) -> ExecutionRef | StepRef | ApprovalRef:
    """Any id the gateway issues; raises InvalidId for anything else."""
    if len(value) > MAX_ID_LENGTH:
        raise InvalidId(f"an id is at most {MAX_ID_LENGTH} characters; this one has {len(value)}")
    if ":" in value:
        return parse_execution_id(value)
    try:
        padded = value + "=" * (-len(value) % 4)
        tag, source, native, key = json.loads(base64.urlsafe_b64decode(padded.encode("ascii")))
    except (ValueError, TypeError, binascii.Error, UnicodeError):
        raise InvalidId(f"'{_shown(value)}' is not an id this gateway issued") from None
    if not all(isinstance(p, str) for p in (tag, source, native, key)) or not _KEY.fullmatch(key):
        raise InvalidId(f"'{_shown(value)}' is not an id this gateway issued")
    ref = parse_execution_id(f"{source}:{native}")
    if tag == "S" and key:
        return StepRef(ref, key)
    if tag == "A":
        return ApprovalRef(ref, key)
    raise InvalidId(f"'{_shown(value)}' is not an id this gateway issued")


def _shown(value: str) -> str:
    """An id as safe to echo back: printable, and short."""
    cleaned = "".join(c if c.isprintable() else "?" for c in value[:64])
    return cleaned + ("…" if len(value) > 64 else "")
