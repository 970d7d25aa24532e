"""What every observer of a request reads: its id, its GraphQL operation, its outcome.

``ObserveRequests`` is the outermost middleware: it takes the caller's ``X-Request-ID`` (or makes
one), echoes it on the response, times the request, and hands the finished ``RequestRecord`` to
the observers (the log line, the metrics). ``OperationRecording``, called by the schema's one
extension (gateway/schema/operation.py), fills in the operation name and whether it ran, so logs,
metrics and traces agree on one outcome:

- ``ok``: the operation ran without errors;
- ``errors``: it ran (or crashed) and the answer carries errors;
- ``refused``: it never ran: no key, over a limit, a document that does not parse or validate.
"""

from __future__ import annotations

import contextvars
import os
import re
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol

from graphql import OperationDefinitionNode

if TYPE_CHECKING:
    from collections.abc import Sequence

    from starlette.types import ASGIApp, Message, Receive, Scope, Send
    from strawberry.types import ExecutionContext

__all__ = [
    "GRAPHQL_PATH",
    "REQUEST_ID_HEADER",
    "ObserveRequests",
    "OperationRecording",
    "RequestObserver",
    "RequestRecord",
    "current_request_id",
    "record_of",
    "record_refusal",
]

REQUEST_ID_HEADER = "x-request-id"
GRAPHQL_PATH = "/graphql"
MAX_REQUEST_ID_CHARS = 128
MAX_LOGGED_PATH_CHARS = 200
_SAFE_REQUEST_ID = re.compile(rf"^[A-Za-z0-9._:@/+=-]{{1,{MAX_REQUEST_ID_CHARS}}}$")
_RECORD_KEY = "observed_request"

current_request_id: contextvars.ContextVar[str | None] = contextvars.ContextVar(
    "gateway_request_id", default=None
)
"""The id of the request being served; upstream-call observers read it (tasks inherit it)."""


@dataclass(slots=True)
class RequestRecord:
    """One HTTP request as the observers see it; filled in as it passes through the layers."""

    request_id: str
    method: str
    path: str
    started: float
    status: int = 0
    duration_s: float = 0.0
    caller: str | None = None
    operation: str | None = None
    """The operation's name, ``anonymous`` for an unnamed one; None until a document parses."""
    graphql: bool = False
    """The schema saw this request (as opposed to a refusal in a middleware, or the IDE page)."""
    executed: bool = False
    errors: int = 0

    @property
    def outcome(self) -> str:
        if self.executed:
            return "errors" if self.errors else "ok"
        if self.graphql or 400 <= self.status < 500:
            return "refused"
        return "errors" if self.status >= 500 else "ok"

    @property
    def is_graphql_request(self) -> bool:
        """A GraphQL request, answered or refused (not the GraphiQL page, not a probe)."""
        return self.path == GRAPHQL_PATH and (self.graphql or self.status >= 400)


class RequestObserver(Protocol):
    def request_started(self, record: RequestRecord) -> None: ...

    def request_finished(self, record: RequestRecord) -> None: ...


def record_of(scope: Scope) -> RequestRecord | None:
    record = scope.get("state", {}).get(_RECORD_KEY)
    return record if isinstance(record, RequestRecord) else None


class ObserveRequests:
    """Outermost middleware: request id in and out, timing, status, then the observers."""

    def __init__(self, app: ASGIApp, observers: Sequence[RequestObserver] = ()) -> None:
        self.app = app
        self.observers = tuple(observers)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        # 128 random bits as 32 hex digits: uuid4's randomness without its object (0.5 µs, not 2).
        request_id = _incoming_request_id(scope) or os.urandom(16).hex()
        record = RequestRecord(
            request_id=request_id,
            method=scope["method"],
            path=scope["path"][:MAX_LOGGED_PATH_CHARS],
            started=time.perf_counter(),
        )
        state = scope.setdefault("state", {})
        state["request_id"] = request_id
        state[_RECORD_KEY] = record
        header = (REQUEST_ID_HEADER.encode(), request_id.encode())

        async def send_with_id(message: Message) -> None:
            if message["type"] == "http.response.start":
                record.status = message["status"]
                message["headers"] = [*message.get("headers", ()), header]
            await send(message)

        token = current_request_id.set(request_id)
        for observer in self.observers:
            observer.request_started(record)
        try:
            await self.app(scope, receive, send_with_id)
        except BaseException:
            record.status = record.status or 500
            raise
        finally:
            current_request_id.reset(token)
            record.duration_s = time.perf_counter() - record.started
            caller = state.get("caller")
            record.caller = getattr(caller, "name", None)
            for observer in self.observers:
                observer.request_finished(record)


def _incoming_request_id(scope: Scope) -> str | None:
    """The caller's id when it is short and plain: it goes into logs and a response header."""
    for name, value in scope["headers"]:
        if name == REQUEST_ID_HEADER.encode():
            text = value.decode("latin-1").strip()
            return text if _SAFE_REQUEST_ID.match(text) else None
    return None


class OperationRecording:
    """Notes the operation's name and whether it ran on the request's ``RequestRecord``.

    One per operation; a request without a record (the schema executed directly) notes nothing.
    """

    def __init__(self, context: ExecutionContext) -> None:
        self._context = context
        request: Any = getattr(context.context, "request", None)
        scope = getattr(request, "scope", None)
        self._record = record_of(scope) if isinstance(scope, dict) else None
        if self._record is not None:
            self._record.graphql = True

    def failed(self) -> None:
        """The operation raised instead of answering."""
        if self._record is not None:
            self._record.errors += 1

    def ended(self) -> None:
        if self._record is not None:
            self._record.operation = _operation_name(self._context)
            self._record.errors += len(self._context.pre_execution_errors or ())

    def executing(self) -> None:
        if self._record is not None:
            self._record.executed = True


def record_refusal(scope: object, errors: int) -> None:
    """An operation the gate refused (gateway/gate): the schema saw it, and it never ran."""
    record = record_of(scope) if isinstance(scope, dict) else None
    if record is not None:
        record.graphql = True
        record.errors += errors


def _operation_name(context: ExecutionContext) -> str | None:
    """The name as the document spells it; a client's ``operationName`` counts only if it matches."""
    document = context.graphql_document
    if document is None:
        return None
    names = [
        d.name.value if d.name else None
        for d in document.definitions
        if isinstance(d, OperationDefinitionNode)
    ]
    name = context.operation_name
    if name is None:
        return "anonymous" if names else None
    return name if name in names else None
