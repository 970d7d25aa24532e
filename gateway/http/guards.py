"""HTTP-level checks on ``/graphql`` before any GraphQL work, per the GraphQL-over-HTTP spec.

Three pure ASGI middlewares and the CORS entry ``create_app`` adds (docs/graphql-over-http.md):

- ``BodyLimitMiddleware``: 413 beyond ``server.max_body_bytes`` — by ``Content-Length`` up front,
  else by counting the bytes as they arrive, never reading past the limit.
- ``RequestGuardMiddleware``: a POST body must be ``application/json``, else 415, and JSON that
  strawberry can read without a 500 (an object, utf-8, not absurdly nested, no NaN, no lone
  surrogate escapes), else 400; GET carries queries only, so a mutation over GET is 405 with ``Allow: POST``.
- ``GraphQLResponseMiddleware``: answers ``application/graphql-response+json`` when the client
  prefers it (a request error is then a 400 without ``data``), and turns strawberry's plain-text
  refusals into GraphQL-style JSON errors with ``extensions.code``.
- ``cors_middleware``: starlette's CORSMiddleware for ``server.cors_origins``, when there are any.

Every refusal here is a JSON body ``{"errors": [{"message", "extensions": {"code"}}]}``.
"""

from __future__ import annotations

import json
import math
import re
from typing import TYPE_CHECKING, Any

from graphql import GraphQLError, OperationDefinitionNode, OperationType, parse
from graphql.utilities import get_operation_ast
from starlette.datastructures import Headers, QueryParams
from starlette.middleware import Middleware
from starlette.middleware.cors import CORSMiddleware

if TYPE_CHECKING:
    from collections.abc import Iterable

    from starlette.types import ASGIApp, Message, Receive, Scope, Send

__all__ = [
    "GET_PARSE_MAX_TOKENS",
    "GRAPHQL_PATHS",
    "GRAPHQL_RESPONSE_JSON",
    "JSON_BODY",
    "BodyLimitMiddleware",
    "GraphQLResponseMiddleware",
    "NotJson",
    "PathMiddleware",
    "RequestGuardMiddleware",
    "cors_middleware",
    "error_body",
    "prefers_graphql_response",
    "read_json",
    "send_error",
]

GRAPHQL_PATHS = ("/graphql",)
GRAPHQL_RESPONSE_JSON = "application/graphql-response+json"
"""The GraphQL-over-HTTP response media type; ``application/json`` stays the default."""
JSON_BODY = "json_body"
"""``scope["state"]`` key: the POST body's object as RequestGuardMiddleware read it, so the view
does not parse it a second time."""
_JSON = "application/json"


class PathMiddleware:
    """A pure ASGI middleware that acts on HTTP requests to ``paths`` and passes the rest through.

    Subclasses implement ``handle``; ``self.app`` is the application they wrap.
    """

    def __init__(self, app: ASGIApp, paths: tuple[str, ...] = GRAPHQL_PATHS) -> None:
        self.app = app
        self.paths = paths

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"] not in self.paths:
            await self.app(scope, receive, send)
            return
        await self.handle(scope, receive, send)

    async def handle(self, scope: Scope, receive: Receive, send: Send) -> None:
        """One HTTP request to one of ``paths``."""
        raise NotImplementedError


_UTF8 = ("utf-8", "utf8")
_CORS_HEADERS = ("authorization", "content-type", "x-request-id")
_CORS_MAX_AGE_S = 600
_SURROGATE_ESCAPE = re.compile(r"\\u[dD][89a-fA-F]")
MAX_JSON_INT_DIGITS = 4_300
"""Python's own bound on int() of a string; past it the standard library raises, so we refuse."""
GET_PARSE_MAX_TOKENS = 10_000
"""The most tokens the GET check parses; the schema's own ``max_tokens`` refuses bigger ones."""


def error_body(message: str, code: str, **extensions: Any) -> bytes:
    """A GraphQL-style error document as JSON bytes."""
    return json.dumps(
        {"errors": [{"message": message, "extensions": {"code": code, **extensions}}]}
    ).encode()


async def send_error(
    send: Send,
    status: int,
    message: str,
    code: str,
    *,
    headers: Iterable[tuple[bytes, bytes]] = (),
    **extensions: Any,
) -> None:
    """Answer a whole request with a GraphQL-style JSON error."""
    body = error_body(message, code, **extensions)
    raw = [
        (b"content-type", _JSON.encode()),
        (b"content-length", str(len(body)).encode()),
        *headers,
    ]
    await send({"type": "http.response.start", "status": status, "headers": raw})
    await send({"type": "http.response.body", "body": body})


def prefers_graphql_response(accept: str | None) -> bool:
    """Whether an ``Accept`` header ranks application/graphql-response+json at least as high as
    application/json (wildcards count for neither: they get the legacy ``application/json``)."""
    if not accept:
        return False
    ranks: dict[str, float] = {}
    for part in accept.split(","):
        media, *params = (p.strip() for p in part.split(";"))
        quality = 1.0
        for param in params:
            name, _, value = param.partition("=")
            if name.strip().lower() == "q":
                try:
                    quality = float(value)
                except ValueError:
                    quality = 0.0
        ranks[media.lower()] = max(quality, ranks.get(media.lower(), 0.0))
    ours = ranks.get(GRAPHQL_RESPONSE_JSON, 0.0)
    return ours > 0 and ours >= ranks.get(_JSON, 0.0)


def cors_middleware(origins: Iterable[str]) -> list[Middleware]:
    """CORS for exactly these origins; nothing at all (same-origin only) when there are none."""
    allowed = list(origins)
    if not allowed:
        return []
    return [
        Middleware(
            CORSMiddleware,
            allow_origins=allowed,
            allow_methods=["GET", "POST"],
            allow_headers=list(_CORS_HEADERS),
            expose_headers=["retry-after"],
            max_age=_CORS_MAX_AGE_S,
        )
    ]


class _BodyRefused(Exception):
    """Raised from ``receive`` to stop whoever reads a body we refuse; becomes the answer."""

    def __init__(self, status: int, message: str, **extensions: Any) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.extensions = extensions


async def _serve_refusing(app: ASGIApp, scope: Scope, receive: Receive, send: Send) -> None:
    """Run ``app``; a ``_BodyRefused`` raised from ``receive`` becomes a JSON error response."""
    started = False

    async def tracked_send(message: Message) -> None:
        nonlocal started
        started = started or message["type"] == "http.response.start"
        await send(message)

    try:
        await app(scope, receive, tracked_send)
    except _BodyRefused as refused:
        if not started:  # else the answer is already on its way; nothing better to say
            await send_error(
                send, refused.status, refused.message, "BAD_USER_INPUT", **refused.extensions
            )


class BodyLimitMiddleware(PathMiddleware):
    """413 for a request body over ``max_bytes``, without reading more than that."""

    def __init__(
        self, app: ASGIApp, max_bytes: int, paths: tuple[str, ...] = GRAPHQL_PATHS
    ) -> None:
        super().__init__(app, paths)
        self.max_bytes = max_bytes

    def _too_large(self) -> _BodyRefused:
        return _BodyRefused(
            413,
            f"The request body is larger than this gateway accepts ({self.max_bytes} bytes, "
            "server.max_body_bytes).",
            limit="max_body_bytes",
            allowed=self.max_bytes,
        )

    async def handle(self, scope: Scope, receive: Receive, send: Send) -> None:
        declared = Headers(scope=scope).get("content-length")
        if declared is not None:
            if not declared.isdigit():
                await send_error(send, 400, "Content-Length is not a number.", "BAD_USER_INPUT")
                return
            if int(declared) > self.max_bytes:
                too_large = self._too_large()
                await send_error(
                    send, 413, too_large.message, "BAD_USER_INPUT", **too_large.extensions
                )
                return
        received = 0

        async def limited_receive() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.max_bytes:
                    raise self._too_large()
            return message

        await _serve_refusing(self.app, scope, limited_receive, send)


class RequestGuardMiddleware(PathMiddleware):
    """POST bodies must be JSON strawberry can read (415, 400); GET may only query (405)."""

    async def handle(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["method"] == "POST":
            problem = _content_type_problem(Headers(scope=scope).get("content-type"))
            if problem:
                await send_error(send, 415, problem, "BAD_USER_INPUT")
                return
            # Whole, to check it; BodyLimitMiddleware (outside) bounds how much that is.
            body, disconnected = await _read_body(receive)
            if disconnected:
                return
            data, problem = _body_object(body)
            if problem:
                await send_error(send, 400, problem, "BAD_USER_INPUT")
                return
            scope.setdefault("state", {})[JSON_BODY] = data
            await self.app(scope, _replay(body, receive), send)
            return
        if scope["method"] == "GET" and _get_is_not_a_query(scope):
            await send_error(
                send,
                405,
                "Only queries may be sent with GET; send mutations with POST.",
                "BAD_USER_INPUT",
                headers=[(b"allow", b"POST")],
            )
            return
        await self.app(scope, receive, send)


async def _read_body(receive: Receive) -> tuple[bytes, bool]:
    """The whole request body, and whether the client went away instead."""
    chunks = []
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            return b"", True
        chunks.append(message.get("body", b""))
        if not message.get("more_body", False):
            return b"".join(chunks), False


def _replay(body: bytes, receive: Receive) -> Receive:
    """A ``receive`` that hands over ``body`` once, then waits on the real one (disconnect)."""
    pending = True

    async def replayed() -> Message:
        nonlocal pending
        if pending:
            pending = False
            return {"type": "http.request", "body": body, "more_body": False}
        return await receive()

    return replayed


class NotJson(ValueError):
    """Text that is not JSON this gateway reads; the message says why."""


def _refuse_constant(name: str) -> object:
    raise NotJson(f"{name} is not a JSON value")


def _bounded_int(text: str) -> int:
    if len(text.lstrip("-")) > MAX_JSON_INT_DIGITS:
        raise NotJson(f"a number of more than {MAX_JSON_INT_DIGITS} digits")
    return int(text)


def _finite_float(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):
        raise NotJson(f"{text[:20]} is beyond a 64-bit float")
    return value


def read_json(text: str) -> Any:
    """JSON as the standard library reads it, less what would break a request later.

    ``NaN`` and ``Infinity`` are Python's extension, not JSON; an integer past Python's 4,300
    digits and nesting deeper than Python recurses raised errors strawberry turned into a 500.
    Raises NotJson.
    """
    try:
        return json.loads(
            text,
            parse_constant=_refuse_constant,
            parse_int=_bounded_int,
            parse_float=_finite_float,
        )
    except NotJson:
        raise
    except RecursionError:
        raise NotJson("it nests JSON deeper than this gateway reads") from None
    except ValueError as exc:
        raise NotJson(str(exc)[:200]) from None


def _body_object(body: bytes) -> tuple[dict[str, Any], None] | tuple[None, str]:
    """The JSON object in this body, or why it is not a JSON object strawberry can read.

    Every refusal is ours, a 400 with a code: left to strawberry, a body that is JSON but not an
    object (``null``, ``1``, ``"x"``, ``true``), bytes that are not utf-8, and a ``\\u`` escape of
    half a surrogate pair were each a 500, and so was what ``read_json`` refuses.
    """
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError:
        return None, "The request body is not valid utf-8."
    try:
        data = read_json(text)
    except NotJson as exc:
        return None, f"The request body is not JSON this gateway reads: {exc}."
    if not isinstance(data, dict):
        kind = _json_kind(data)
        return None, f"The request body must be a JSON object with a 'query', not {kind}."
    if _SURROGATE_ESCAPE.search(text):
        try:
            json.dumps(data, ensure_ascii=False).encode("utf-8")
        except UnicodeEncodeError:
            return (
                None,
                "The request body escapes half of a surrogate pair (\\uD800-\\uDFFF alone).",
            )
    return data, None


def _json_kind(value: object) -> str:
    if value is None or isinstance(value, bool):
        return json.dumps(value)
    if isinstance(value, list):
        return "an array"
    return "a string" if isinstance(value, str) else "a number"


def _content_type_problem(content_type: str | None) -> str | None:
    expected = "POST /graphql takes a JSON body: send 'Content-Type: application/json'"
    if not content_type:
        return expected + " (none was sent)."
    media, *params = (p.strip() for p in content_type.split(";"))
    if media.lower() != _JSON:
        return f"{expected} (got '{media[:100]}')."
    for param in params:
        name, _, value = param.partition("=")
        if name.strip().lower() == "charset" and value.strip().strip('"').lower() not in _UTF8:
            return f"{expected}; utf-8 is the only charset accepted."
    return None


def _get_is_not_a_query(scope: Scope) -> bool:
    params = QueryParams(scope.get("query_string", b""))
    query = params.get("query")
    if not query:
        return False
    try:
        document = parse(query, max_tokens=GET_PARSE_MAX_TOKENS)
    except GraphQLError:
        return False  # strawberry answers the syntax error
    name = params.get("operationName")
    operations = [d for d in document.definitions if isinstance(d, OperationDefinitionNode)]
    # Without a name strawberry runs the first operation, so that is the one to judge.
    operation = get_operation_ast(document, name) if name else next(iter(operations), None)
    if operation is None or operation.operation is OperationType.QUERY:
        return False
    # A subscription may stream over GET as SSE (EventSource only does GET; docs/live.md).
    return not (operation.operation is OperationType.SUBSCRIPTION and _accepts_event_stream(scope))


def _accepts_event_stream(scope: Scope) -> bool:
    accept = Headers(scope=scope).get("accept", "")
    return any(
        part.split(";", 1)[0].strip().lower() == "text/event-stream" for part in accept.split(",")
    )


class GraphQLResponseMiddleware(PathMiddleware):
    """Content negotiation and JSON errors for what strawberry answers on ``/graphql``.

    strawberry always answers ``application/json`` with status 200, and plain text for the
    requests it refuses; this buffers only those two kinds of answer and rewrites them.
    """

    async def handle(self, scope: Scope, receive: Receive, send: Send) -> None:
        graphql_response = prefers_graphql_response(Headers(scope=scope).get("accept"))
        start: Message | None = None
        chunks: list[bytes] = []

        async def shaping_send(message: Message) -> None:
            nonlocal start
            if message["type"] == "http.response.start":
                media = Headers(raw=message["headers"]).get("content-type", "").split(";")[0]
                plain_error = media == "text/plain" and message["status"] >= 400
                if plain_error or (graphql_response and media == _JSON):
                    start = message
                    return
            elif message["type"] == "http.response.body" and start is not None:
                chunks.append(message.get("body", b""))
                if message.get("more_body", False):
                    return
                await _send_rewritten(send, start, b"".join(chunks), graphql_response)
                return
            await send(message)

        await self.app(scope, receive, shaping_send)


_PLAIN_ERROR_CODES = {401: "UNAUTHENTICATED", 403: "FORBIDDEN", 404: "NOT_FOUND"}


async def _send_rewritten(send: Send, start: Message, body: bytes, graphql_response: bool) -> None:
    status: int = start["status"]
    headers = [
        (name, value)
        for name, value in start["headers"]
        if name.lower() not in (b"content-type", b"content-length")
    ]
    media = Headers(raw=start["headers"]).get("content-type", "").split(";")[0]
    if media == "text/plain":
        code = _PLAIN_ERROR_CODES.get(status, "INTERNAL" if status >= 500 else "BAD_USER_INPUT")
        body = error_body(body.decode("utf-8", "replace"), code)
    elif status == 200 and graphql_response:
        request_error = _request_error_without_data(body)
        if request_error is not None:
            status, body = 400, request_error
    content_type = GRAPHQL_RESPONSE_JSON if graphql_response else _JSON
    headers += [
        (b"content-type", f"{content_type}; charset=utf-8".encode()),
        (b"content-length", str(len(body)).encode()),
    ]
    await send({**start, "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})


def _request_error_without_data(body: bytes) -> bytes | None:
    """A request error (parse, validation, variables, limits: no data, no error with a ``path``)
    without its ``data`` entry; None for any other result."""
    try:
        result = json.loads(body)
    except ValueError:
        return None
    if not isinstance(result, dict) or result.get("data") is not None:
        return None
    errors = result.get("errors")
    if not errors or not all(isinstance(e, dict) and "path" not in e for e in errors):
        return None
    result.pop("data", None)
    return json.dumps(result).encode()
