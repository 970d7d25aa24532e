"""What a source kind declares so the generic gateway code never names it.

An adapter class states its secrets, its typed options and its webhook framing here, as class
attributes (``SourceAdapter.secrets``, ``.options_type``, ``.webhooks``); ``gateway/config``,
``gateway/live`` and the CLI read them from the registry. A fifth kind adds nothing outside its
own modules (docs/adding-a-source.md).
"""

from __future__ import annotations

import hashlib
import hmac
import re
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from collections.abc import Callable

__all__ = [
    "WEBHOOK_SECRET",
    "NoOptions",
    "Secret",
    "UnreadableEvent",
    "UrlToken",
    "WebhookEvent",
    "Webhooks",
]

WEBHOOK_SECRET = "webhook_secret"  # noqa: S105 (the name of a credential, not one)
"""The credential under which the runtime hands an adapter its source's current webhook secret
(``webhook_secret_env``), for a kind that signs the webhook URLs it gives its upstream."""


@dataclass(frozen=True, slots=True)
class Secret:
    """A credential a source of the kind is given: written ``<name>_env`` in the config (the
    variable holding it), or ``<name>`` itself where ``literal`` allows (an id, not a secret)."""

    name: str
    """``api_key``, ``auth_token``, ``tenant_id``: the key the adapter reads from Credentials."""
    required: bool = True
    literal: bool = False
    """May be written in the file as its value (e.g. a tenant id); never for a true secret."""


@dataclass(frozen=True, slots=True)
class NoOptions:
    """A kind without options of its own."""


class UnreadableEvent(ValueError):
    """The body is not an event of this kind (after a valid signature: a sender bug)."""


@dataclass(frozen=True, slots=True)
class WebhookEvent:
    """What a webhook says, read from the signed body: a hint to re-read the execution."""

    event_id: str
    type: str
    native_id: str | None
    """None for an event type that names no execution (or one this gateway does not know)."""
    known: bool
    sent_at: float | None
    """When the event happened (Unix seconds), if the body says; None when it does not."""


@dataclass(frozen=True, slots=True)
class UrlToken:
    """A delivery authenticated by its URL, for an upstream that signs nothing: the gateway gives
    it ``...?<parameter>=<token>``, the hex HMAC-SHA256 of one value of the body (``bound_to``)
    under the source's webhook secret. A URL that leaks can only ever announce what it is bound
    to (one thread), and the announcement is a hint the gateway checks by re-reading."""

    parameter: str
    """The query parameter holding the token."""
    bound_to: Callable[[Any], str | None]
    """The value in a parsed JSON body the token must be the HMAC of; None: the body has none."""

    @staticmethod
    def token(secret: str, value: str) -> str:
        """The token for ``value``: what the adapter puts in the URL and the receiver expects."""
        return hmac.new(secret.encode(), value.encode(), hashlib.sha256).hexdigest()


@dataclass(frozen=True, slots=True)
class Webhooks:
    """How a kind's upstream authenticates and frames the webhooks it sends: an HMAC of the body
    in a header (``signature_header`` and ``signature``), or a token in the URL (``url_token``)."""

    signature_header: str | None
    """Lower-case header name; None for a kind authenticated by ``url_token``."""
    signature: re.Pattern[str] | None
    """The whole header value; its one group is the hex HMAC-SHA256 of the raw body."""
    read_event: Callable[[Any], WebhookEvent]
    """The event in a parsed JSON body; raises UnreadableEvent if it is not one of the kind."""
    covers_every_change: bool = False
    """Whether the webhooks announce every state change, approvals included; otherwise a
    watched execution is polled too."""
    replay_window_s: float | None = None
    """The oldest event the sender still delivers, where its retry schedule says so."""
    url_token: UrlToken | None = None
    """For a sender that signs nothing: the token its URL carries (no signature header then)."""

    def __post_init__(self) -> None:
        signed = self.signature_header is not None and self.signature is not None
        unsigned = self.signature_header is None and self.signature is None
        if not ((signed and self.url_token is None) or (unsigned and self.url_token is not None)):
            raise ValueError(
                "webhooks are authenticated one way: a signature header or a URL token"
            )


SHA256_PREFIXED = re.compile(r"sha256=([0-9a-f]{64})")
"""``sha256=<64 lower-case hex>``: the framing most vendors document."""
SHA256_PREFIX_OPTIONAL = re.compile(r"(?:sha256=)?([0-9a-f]{64})")
"""The same, or the bare digest, for a vendor that documents the algorithm but not the framing."""
BARE_SHA256 = re.compile(r"[0-9a-f]{64}")
"""A URL token: the bare lower-case hex digest."""
