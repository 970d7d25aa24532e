"""Topic names and message shapes on the bus: plain strings and JSON, so they cross processes.

- ``execution/<source>/<native id>``: one execution changed; ``{"source", "id", "status",
  "version"}``. ``version`` is a digest of the upstream payload: equal versions, same state.
- ``executions``: the same message for every change (``executionChanges`` filters it).
- ``approvals``: an approval newly pending; ``{"source", "id", "key", "status", "version"}``.
- ``approvals_resolved``: an approval that stopped waiting (decided, or its run ended); the same
  shape.
"""

from __future__ import annotations

import hashlib
import json
from typing import TYPE_CHECKING

import orjson

from gateway.state.codec import execution_to_plain

if TYPE_CHECKING:
    from adapters.model import Execution
    from gateway.live.bus import Message

__all__ = [
    "APPROVALS",
    "APPROVALS_RESOLVED",
    "EXECUTIONS",
    "approval_message",
    "changed_message",
    "execution_topic",
    "version_of",
]

EXECUTIONS = "executions"
APPROVALS = "approvals"
APPROVALS_RESOLVED = "approvals_resolved"


def execution_topic(source: str, native_id: str) -> str:
    return f"execution/{source}/{native_id}"


def version_of(execution: Execution) -> str:
    """A digest of what the upstream said: a poll that reads the same payload changes nothing."""
    try:
        data = orjson.dumps(execution.raw, option=orjson.OPT_SORT_KEYS)
    except TypeError:  # an integer beyond 64 bits in a raw payload
        data = json.dumps(execution.raw, sort_keys=True, default=str).encode()
    return hashlib.blake2b(data, digest_size=12).hexdigest()


def changed_message(source: str, execution: Execution, version: str) -> Message:
    return {
        "source": source,
        "id": execution.native_id,
        "status": execution.status.value,
        "version": version,
        # The state itself, so a replica that did not read it can answer its subscribers without
        # reading the upstream again (one read per change for the whole fleet).
        **_carried(execution),
    }


def approval_message(source: str, execution: Execution, key: str, version: str) -> Message:
    return {
        "source": source,
        "id": execution.native_id,
        "key": key,
        "version": version,
        **_carried(execution),
    }


def _carried(execution: Execution) -> Message:
    """``{"execution": …}`` when JSON can carry it (not a raw integer beyond 64 bits): a replica
    that receives a message without it reads the execution itself."""
    plain = execution_to_plain(execution)
    try:
        orjson.dumps(plain)
    except TypeError:
        return {}
    return {"execution": plain}
