"""What every adapter offers the gateway, whatever its upstream looks like."""

from __future__ import annotations

import enum
from abc import ABC, abstractmethod
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, ClassVar, TypeVar

from adapters.declarations import NoOptions, Secret, Webhooks
from adapters.errors import PayloadError, UnsupportedOperation, UpstreamBadResponse, UpstreamError

if TYPE_CHECKING:
    from collections.abc import Callable, Iterator
    from datetime import datetime

    from adapters.engine import CallObserver, HTTPSettings, SourceHTTP
    from adapters.model import Approval, ApprovalStatus, Execution, ExecutionStatus, SourceKind
    from adapters.transports import InjectedTransport, TransportResponse

__all__ = [
    "Capability",
    "Credentials",
    "Decision",
    "DecisionOutcome",
    "EventPage",
    "ExecutionPage",
    "RunAction",
    "SourceAdapter",
    "StartOutcome",
    "StartRequest",
    "UpstreamEvent",
]

T = TypeVar("T")


class Capability(enum.Enum):
    """What a source can do; the gateway refuses the rest with UNSUPPORTED before any call."""

    GET = "GET"
    LIST = "LIST"
    CHILDREN = "CHILDREN"
    APPROVE = "APPROVE"


class RunAction(enum.Enum):
    """Run control a source offers (its adapter's ``actions``); the gateway refuses the rest with
    UNSUPPORTED before any upstream call."""

    START = "START"
    CANCEL = "CANCEL"
    RERUN = "RERUN"


@dataclass(frozen=True, slots=True)
class StartRequest:
    """What to start, in the gateway's words; each adapter maps it to its upstream's body.

    ``workflow_id`` is the definition (Rotavision workflow, Velt ``definitionId``, Truthlocks
    ``workflow_id``); ``inputs`` the run's input (Velt ``triggerContext``, Truthlocks ``input`` or
    ``parameters``); ``agent_id`` picks Truthlocks' prose variant, ``agents`` its OpenAPI one.
    ``idempotency_key`` is the gateway's key for this start, passed to upstreams that take one.
    """

    workflow_id: str | None
    inputs: Any
    idempotency_key: str
    agent_id: str | None = None
    agents: tuple[str, ...] = ()
    correlation_id: str | None = None


@dataclass(frozen=True, slots=True)
class StartOutcome:
    """The upstream accepted a start: the new run's id, the run as its reply showed it (None when
    the reply names only the id), and whether the upstream says it was a repeat of an earlier
    start with the same key (Velt's ``deduplicated``)."""

    native_id: str
    execution: Execution | None
    deduplicated: bool = False


class Decision(enum.Enum):
    APPROVE = "APPROVE"
    REJECT = "REJECT"


@dataclass(frozen=True, slots=True)
class DecisionOutcome:
    """What the upstream confirmed about one decision.

    ``approval_status`` is the approval's state after the decision where the reply says it
    (PENDING when other mandatory reviewers still have to vote), else None: re-read to know.
    ``already_recorded`` is True when the upstream refused the vote because this reviewer (or this
    request) had already been recorded: not necessarily with the decision sent now.
    ``requested`` is the decision sent; ``recorded_decision`` the one the upstream holds for this
    reviewer after the call: the decision sent when it was recorded now, the earlier one when the
    reply or a re-read shows it, None when nothing says. So an already-recorded outcome is success
    for the caller only when ``matches_request`` is True.
    ``approval`` is the approval as a re-read showed it, when the adapter had to re-read.
    """

    approval_status: ApprovalStatus | None
    already_recorded: bool = False
    detail: str | None = None
    requested: Decision | None = None
    recorded_decision: Decision | None = None
    approval: Approval | None = None

    @property
    def matches_request(self) -> bool | None:
        """True: the upstream holds what was asked; False: it holds the other decision; None:
        unknown (an already-recorded vote whose decision neither the reply nor a re-read shows)."""
        if self.recorded_decision is None or self.requested is None:
            return None
        return self.recorded_decision is self.requested


@dataclass(frozen=True, slots=True)
class UpstreamEvent:
    """One entry of an upstream's own event log for an execution (Velt's ``getEvents``)."""

    seq: int
    type: str
    step_native_id: str | None
    at: datetime | None
    data: Any = None


@dataclass(frozen=True, slots=True)
class EventPage:
    events: tuple[UpstreamEvent, ...]
    next_seq: int | None
    """Where the next page starts (``sinceSeq``), None when there is no more."""


@dataclass(frozen=True, slots=True)
class ExecutionPage:
    """One page of an upstream's execution list.

    ``next_cursor`` is the upstream's own position for the next page (None when exhausted);
    ``complete`` says whether items carry everything a get would (Velt list items have no steps).
    Page-numbered upstreams (nesting) also say which page this is, its size, and whether it is
    known to be the last (``is_last``: fewer items than the page size, or a total says so), so a
    caller can find the end of an oldest-first list and walk it backwards.
    """

    items: tuple[Execution, ...]
    next_cursor: str | None
    total: int | None = None
    complete: bool = True
    page_number: int | None = None
    page_size: int | None = None
    is_last: bool | None = None


class Credentials(Mapping[str, str]):
    """Secrets read from the environment at start-up, by the names the kind declares
    (``SourceAdapter.secrets``); never logged, never in a message."""

    __slots__ = ("_values",)

    def __init__(self, **values: str | None) -> None:
        self._values = {name: value for name, value in values.items() if value is not None}

    def __getitem__(self, name: str) -> str:
        return self._values[name]

    def __iter__(self) -> Iterator[str]:
        return iter(self._values)

    def __len__(self) -> int:
        return len(self._values)

    def __repr__(self) -> str:
        return "Credentials(<redacted>)"


class SourceAdapter(ABC):
    """One configured source: an HTTP engine plus the kind's paths, headers and parsers."""

    kind: ClassVar[SourceKind]
    capabilities: ClassVar[frozenset[Capability]]
    waiting_status: ClassVar[ExecutionStatus | None] = None
    """How this kind's list finds runs waiting for a human: the status to ask its list for
    (``WAITING_FOR_APPROVAL`` where the upstream has that state), or None where waiting runs
    read as running upstream and each running one must be read in full (Velt, Truthlocks)."""
    actions: ClassVar[frozenset[RunAction]] = frozenset()
    """The run control its upstream documents; read by the gateway before any call."""
    start_deduplicates: ClassVar[bool] = False
    """Whether the upstream itself answers a repeated start key with the first run, so a start
    whose reply was lost may be sent again with the same key."""
    secrets: ClassVar[tuple[Secret, ...]] = (Secret("api_key"),)
    """The credentials a source of this kind is configured with (``<name>_env`` keys)."""
    options_type: ClassVar[type] = NoOptions
    """A frozen dataclass of the kind's own config keys; the config validates them by its
    field types and the adapter reads the instance as ``self.options``."""
    webhooks: ClassVar[Webhooks | None] = None
    """How the upstream signs and frames its webhooks; None: it sends none (polled)."""

    def __init__(self, name: str, http: SourceHTTP, options: object | None = None) -> None:
        self.name = name
        self.http = http
        self.options: object = self.options_type() if options is None else options
        """The kind's switches from the source's config: an ``options_type`` instance."""
        if not isinstance(self.options, self.options_type):
            raise TypeError(f"options must be a {self.options_type.__name__}, not {options!r}")

    @classmethod
    def create(
        cls,
        *,
        name: str,
        base_url: str,
        credentials: Credentials,
        settings: HTTPSettings,
        transport: InjectedTransport | None = None,
        client: str = "httptools",
        observers: tuple[CallObserver, ...] = (),
        options: object | None = None,
    ) -> SourceAdapter:
        from adapters.engine import SourceHTTP

        http = SourceHTTP(
            source=name,
            base_url=base_url,
            headers=cls.auth_headers(credentials),
            settings=settings,
            read_error=cls.read_error,
            transport=transport,
            client=client,
            observers=observers,
        )
        return cls(name, http, options)

    @classmethod
    def option_problems(cls, options: Any, secrets: frozenset[str]) -> Iterator[tuple[str, str]]:
        """What is wrong with a source's options given the secrets it is configured with, as
        (key, problem): the config reports them with the rest, so ``check-config`` refuses what
        starting the source would. Nothing by default."""
        return iter(())

    @staticmethod
    def partition(execution: Execution) -> str | None:
        """The part of this source a client's scope may name (gateway/core/scope.py): the
        execution's workflow (Rotavision's workflow, Velt's definition, Truthlocks' workflow)
        unless the kind says otherwise."""
        return execution.workflow.id if execution.workflow is not None else None

    @staticmethod
    @abstractmethod
    def auth_headers(credentials: Credentials) -> Mapping[str, str]:
        """The headers that authenticate every call to this kind of upstream."""

    @staticmethod
    def read_error(response: TransportResponse, body: Any) -> UpstreamError | None:
        """Read the kind's error envelope (``body`` is the reply's JSON, None when it is not
        JSON); None falls back to the HTTP status."""
        return None

    @abstractmethod
    async def get_execution(self, native_id: str) -> Execution:
        """Fetch one execution; raises an UpstreamError (ExecutionNotFound when absent)."""

    async def get_tree(self, native_id: str) -> list[Execution]:
        """The execution and every descendant the upstream returns with it (one call).

        Only kinds with Capability.CHILDREN return more than the execution itself.
        """
        return [await self.get_execution(native_id)]

    async def list_executions(
        self, *, cursor: str | None, page_size: int, status: ExecutionStatus | None = None
    ) -> ExecutionPage:
        """One page, newest first. ``status`` is applied upstream where the API can filter;
        callers must still filter what comes back. Only kinds with Capability.LIST."""
        raise UnsupportedOperation(
            f"source '{self.name}' ({self.kind.value}) cannot list executions"
        )

    async def decide(
        self,
        execution: Execution,
        approval: Approval,
        decision: Decision,
        *,
        reviewer_id: str | None,
        notes: str | None,
        idempotency_key: str,
    ) -> DecisionOutcome:
        """Send one approval decision. Only kinds with Capability.APPROVE.

        Raises UpstreamConflict when the approval no longer waits, UpstreamForbidden when the
        upstream refuses this reviewer, other UpstreamErrors when it could not be confirmed.
        """
        raise UnsupportedOperation(f"source '{self.name}' ({self.kind.value}) has no approvals")

    async def start(self, request: StartRequest) -> StartOutcome:
        """Start one run. Only kinds with RunAction.START; the call is sent once, never retried."""
        raise UnsupportedOperation(f"source '{self.name}' ({self.kind.value}) cannot start runs")

    async def cancel(self, native_id: str, *, reason: str | None) -> None:
        """Ask the upstream to cancel a run; returns once it accepted. Only kinds with
        RunAction.CANCEL. Re-read the run to see its state: replies say little."""
        raise UnsupportedOperation(f"source '{self.name}' ({self.kind.value}) cannot cancel runs")

    def rerun_request(self, execution: Execution, idempotency_key: str) -> StartRequest | None:
        """What starting ``execution`` again sends: its definition and inputs where the upstream
        shows them, None where it does not (the run cannot be re-run from the gateway)."""
        return None

    async def aclose(self) -> None:
        await self.http.aclose()

    def parsed(self, parse: Callable[[Any], T], payload: Any, native_id: str | None) -> T:
        """Run a pure parser; a payload it cannot read becomes UPSTREAM_BAD_RESPONSE."""
        try:
            return parse(payload)
        except (PayloadError, KeyError, TypeError, ValueError, AttributeError) as exc:
            raise UpstreamBadResponse(
                f"unexpected payload shape ({exc})" if isinstance(exc, PayloadError) else None,
                source=self.name,
                native_id=native_id,
            ) from exc
