"""Replicas that share state must share their secrets: checked at start-up through the state.

A cursor signed by one replica must verify on the next (and, once webhooks land, a signature
checked on one must verify on all). Each replica publishes an HMAC fingerprint of each secret (never
the secret) the first time, and compares with what is there: a replica configured with another
secret refuses to start and says which.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
from typing import TYPE_CHECKING

from gateway.state.base import StateUnavailable

if TYPE_CHECKING:
    from collections.abc import Mapping

    from gateway.state.base import SharedState

__all__ = ["SecretMismatch", "check_shared_secrets", "fingerprint"]

log = logging.getLogger("gateway.state")
_LABEL = b"execution-gateway shared-secret fingerprint v1"


class SecretMismatch(Exception):
    """This replica's secret differs from the one the others published."""


def fingerprint(secret: str) -> bytes:
    return hmac.new(secret.encode(), _LABEL, hashlib.sha256).hexdigest()[:32].encode()


async def check_shared_secrets(state: SharedState, secrets: Mapping[str, str]) -> None:
    """Raise SecretMismatch naming the first secret that differs; warn if the state is away."""
    for name, secret in secrets.items():
        key = f"fingerprint:{name}"
        mine = fingerprint(secret)
        try:
            if await state.add_once(key, ttl_s=10 * 365 * 86400):
                await state.set(key, mine, ttl_s=10 * 365 * 86400)
                continue
            theirs = await state.get(key)
        except StateUnavailable:
            log.warning(
                "could not check that %s matches the other replicas': state unavailable", name
            )
            return
        if theirs and theirs != mine:  # empty: another replica is publishing its own now
            raise SecretMismatch(
                f"{name} differs from the one other replicas sharing this state use: "
                "set the same secret on every replica"
            )
