"""What each sandbox twin tells the demo and the banner: its credentials, headers and probe.

Every kind's twin declares one ``Twin`` in its own module (``sandbox/<kind>.py``); ``TWINS`` is
the registry, one line per kind. ``gateway demo`` and ``gateway sandbox`` read only this, so a
new kind's twin shows up in both without an edit to ``gateway/``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:
    from collections.abc import Callable, Mapping

__all__ = ["RunningServer", "Twin"]


class RunningServer(Protocol):
    """A vendor's real server a twin started: where it answers, and how to stop it."""

    url: str

    def stop(self) -> None: ...


@dataclass(frozen=True, slots=True)
class Twin:
    kind: str
    """The ``SourceKind`` value the twin plays."""
    demo_name: str
    """The demo's source name for it (the sandbox's webhook sender posts to /webhooks/<name>)."""
    credentials: Mapping[str, str]
    """What the twin accepts by default, by the adapter's secret names (``api_key`` …)."""
    headers: tuple[tuple[str, str], ...]
    """The headers it checks, as templates over ``credentials``: what the banner shows."""
    probe: str
    """One endpoint to try by hand (``GET  /path`` or ``POST /path {body}``)."""
    webhook_header: str | None = None
    """The signature header its webhooks carry; None: it sends none."""
    webhook_secret: str | None = None
    """What it signs its webhooks with; the demo config gives the gateway the same."""
    launch: Callable[[], RunningServer | None] | None = None
    """For a kind whose real server runs here (LangGraph's Agent Server), instead of a
    simulation: start it with demo data, or None when it is not installed."""
    install_hint: str | None = None
    """What to install for ``launch`` to find the server."""
    showcase_options: Mapping[str, object] = field(default_factory=dict)
    """Source options ``gateway demo`` turns on to show what the kind can do (tests leave them
    off so they count exactly one call per execution)."""

    def filled_headers(self) -> tuple[tuple[str, str], ...]:
        return tuple((name, value.format(**self.credentials)) for name, value in self.headers)
