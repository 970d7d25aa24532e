"""Whole answers from the response cache, and HTTP caching headers, in front of the GraphQL view.

A hit is answered here, before GraphQL runs, once the gate has taken the caller's rate-limit
token (``Gate.admit_again``: every other check the gate makes reads only what the key holds, so
the answer it admitted once it would admit again). The request's bytes (a POST body, or a GET's query
string), the negotiated media type, the caller's roles and scope make the key, so the same request from a
caller who sees the same data gets the same bytes. With replicas sharing Redis, a miss here asks
the others' shared answers next (``SharedAnswers``). On a miss the view runs; if it marked the
answer cacheable (``ANSWER_TAGS`` in the request state: the executions it read, all terminal, no
error), the answer is stored here with those tags, and shared after it is sent.

Every buffered answer (each GET, and each POST the cache keeps) gets a strong ``ETag``; a GET
whose ``If-None-Match`` names it gets ``304``. A POST answer that will not be kept passes through
unbuffered, marked ``no-store``.
``Cache-Control`` lets a browser or CDN keep only what the cache itself would keep: ``public`` when
the gateway has no authentication, else ``private`` with ``Vary: Authorization``; everything else
is ``no-store``. Streamed answers (subscriptions) pass through untouched.
"""

from __future__ import annotations

import hashlib
from typing import TYPE_CHECKING

from starlette.datastructures import Headers

from gateway.core.response_cache import entity_tag
from gateway.core.scope import fingerprint
from gateway.gate import Refused, client_key
from gateway.http.guards import GRAPHQL_PATHS, PathMiddleware, send_error

if TYPE_CHECKING:
    from starlette.types import ASGIApp, Message, Receive, Scope, Send

    from gateway.core.background import Background
    from gateway.core.response_cache import CachedAnswer, ResponseCache
    from gateway.core.shared_answers import SharedAnswers
    from gateway.gate import Gate

__all__ = ["ANSWER_TAGS", "ANSWER_TTL", "AnswerCacheMiddleware"]

ANSWER_TAGS = "answer_tags"
"""Request-state key: the view's verdict, a frozenset of (source, native id) when cacheable."""
ANSWER_TTL = "answer_ttl"
"""Request-state key: how long the answer may be kept (the shortest of its executions' TTLs)."""
_STREAMED = (b"text/event-stream", b"multipart/")


def _etag_matches(header: str | None, etag: str) -> bool:
    if not header:
        return False
    candidates = {c.strip().removeprefix("W/") for c in header.split(",")}
    return "*" in candidates or etag in candidates


class AnswerCacheMiddleware(PathMiddleware):
    def __init__(
        self,
        app: ASGIApp,
        answers: ResponseCache,
        *,
        gate: Gate,
        public: bool,
        shared: SharedAnswers | None = None,
        background: Background | None = None,
        paths: tuple[str, ...] = GRAPHQL_PATHS,
    ) -> None:
        super().__init__(app, paths)
        self.answers = answers
        self.gate = gate
        self.shared = shared if background is not None else None
        self.background = background
        self.scope_word = b"public" if public else b"private"

    def _key(self, scope: Scope, material: bytes, headers: Headers) -> str:
        caller = scope.get("state", {}).get("caller")
        roles = ",".join(sorted(getattr(caller, "roles", ()))).encode()
        # A scope sees other answers than its neighbour with the same roles (docs/scope.md).
        seen = fingerprint(getattr(caller, "scope", None)).encode()
        digest = hashlib.sha256()
        parts = (
            scope["method"].encode(),
            material,
            headers.get("accept", "").encode(),
            roles,
            seen,
        )
        for part in parts:
            digest.update(len(part).to_bytes(8, "big"))
            digest.update(part)
        return digest.hexdigest()

    def _cache_headers(self, etag: str, max_age: int | None) -> list[tuple[bytes, bytes]]:
        headers = [(b"etag", etag.encode())]
        if max_age is None:
            headers.append((b"cache-control", b"no-store"))
        else:
            headers.append(
                (b"cache-control", self.scope_word + b", max-age=" + str(max_age).encode())
            )
            if self.scope_word == b"private":
                headers.append((b"vary", b"Authorization, Accept"))
            else:
                headers.append((b"vary", b"Accept"))
        return headers

    async def handle(self, scope: Scope, receive: Receive, send: Send) -> None:
        method = scope["method"]
        if method not in ("GET", "POST"):
            await self.app(scope, receive, send)
            return
        headers = Headers(scope=scope)
        if method == "GET" and "text/html" in headers.get("accept", ""):
            await self.app(scope, receive, send)  # the IDE's page, not an answer
            return
        body = b""
        if method == "POST":
            chunks = []
            while True:
                message = await receive()
                if message["type"] != "http.request":
                    break
                chunks.append(message.get("body", b""))
                if not message.get("more_body", False):
                    break
            body = b"".join(chunks)
        material = body if method == "POST" else scope.get("query_string", b"")
        key = self._key(scope, material, headers) if self.answers.enabled else ""
        since = self.answers.epoch  # an execution dropped after this keeps the answer out
        if_none_match = headers.get("if-none-match") if method == "GET" else None
        hit = self.answers.get(key) if key else None
        if hit is None and key and self.shared is not None and self.shared.worth_asking(key):
            hit = await self._shared_hit(key, since)
        if hit is not None:
            caller = scope.get("state", {}).get("caller")
            try:
                await self.gate.admit_again(client_key(caller, scope.get("client")))
            except Refused as refused:
                error = refused.errors[0]
                await send_error(
                    send,
                    refused.status or 400,
                    error.message,
                    refused.code,
                    headers=[(n.encode(), v.encode()) for n, v in refused.headers],
                    **{k: v for k, v in (error.extensions or {}).items() if k != "code"},
                )
                return
            now_max_age = hit.max_age(self.answers.clock())
            extra = self._cache_headers(hit.etag, now_max_age)
            if _etag_matches(if_none_match, hit.etag):
                await send({"type": "http.response.start", "status": 304, "headers": extra})
                await send({"type": "http.response.body", "body": b""})
                return
            await send(
                {
                    "type": "http.response.start",
                    "status": 200,
                    "headers": [
                        (b"content-type", hit.content_type),
                        (b"content-length", str(len(hit.body)).encode()),
                        *extra,
                    ],
                }
            )
            await send({"type": "http.response.body", "body": hit.body})
            return

        replayed = False

        async def replay() -> Message:
            nonlocal replayed
            if method == "POST" and not replayed:
                replayed = True
                return {"type": "http.request", "body": body, "more_body": False}
            return await receive()

        state = scope.setdefault("state", {})
        start: Message | None = None
        parts: list[bytes] = []

        async def capture(message: Message) -> None:
            nonlocal start
            if message["type"] == "http.response.start":
                content_type = Headers(raw=message.get("headers", [])).get("content-type", "")
                if content_type.encode().startswith(_STREAMED):
                    start = None
                    await send(message)
                    parts.append(b"\0streamed")
                    return
                if method == "POST" and ANSWER_TAGS not in state:
                    # Nothing to keep and no If-None-Match to answer (GET only): pass it on
                    # unbuffered, without hashing it for an ETag nobody will send back.
                    if key and self.shared is not None:
                        self.shared.not_cacheable(key)
                    start = None
                    headers = [
                        (name, value)
                        for name, value in message.get("headers", [])
                        if name.lower() != b"cache-control"
                    ]
                    await send({**message, "headers": [*headers, (b"cache-control", b"no-store")]})
                    return
                start = message
                return
            if message["type"] != "http.response.body" or start is None:
                await send(message)
                return
            parts.append(message.get("body", b""))
            if message.get("more_body", False):
                return
            await self._finish(start, b"".join(parts), state, key, since, if_none_match, send)

        await self.app(scope, replay, capture)

    async def _shared_hit(self, key: str, since: int) -> CachedAnswer | None:
        """Another replica's answer, kept here too (unless something it holds changed since
        this request began: then it is served this once, as a hit just before would have been)."""
        assert self.shared is not None
        found = await self.shared.get(key)
        if found is None:
            return None
        ttl_s = found.expires_at - self.answers.clock()
        kept = self.answers.put(key, found.body, found.tags, ttl_s, found.content_type, since=since)
        return kept or found

    async def _finish(
        self,
        start: Message,
        answer: bytes,
        state: dict[str, object],
        key: str,
        since: int,
        if_none_match: str | None,
        send: Send,
    ) -> None:
        status = start["status"]
        raw_headers = [
            (name, value)
            for name, value in start.get("headers", [])
            if name.lower() not in (b"etag", b"cache-control", b"content-length")
        ]
        tags = state.get(ANSWER_TAGS)
        ttl = state.get(ANSWER_TTL)
        stored = None
        if status == 200 and key and isinstance(tags, frozenset) and isinstance(ttl, float | int):
            content_type = Headers(raw=raw_headers).get("content-type", "application/json")
            stored = self.answers.put(
                key, answer, tags, float(ttl), content_type.encode(), since=since
            )
        if self.shared is not None and key:
            if stored is not None:
                assert self.background is not None
                self.background.spawn(self.shared.put(key, stored), "sharing an answer")
            elif not (status == 200 and isinstance(tags, frozenset)):
                self.shared.not_cacheable(key)
        etag = stored.etag if stored is not None else entity_tag(answer)
        max_age = stored.max_age(self.answers.clock()) if stored is not None else None
        extra = self._cache_headers(etag, max_age) if status == 200 else []
        if status == 200 and _etag_matches(if_none_match, etag):
            await send({"type": "http.response.start", "status": 304, "headers": extra})
            await send({"type": "http.response.body", "body": b""})
            return
        length = [(b"content-length", str(len(answer)).encode())]
        await send({**start, "headers": raw_headers + length + extra})
        await send({"type": "http.response.body", "body": answer})
