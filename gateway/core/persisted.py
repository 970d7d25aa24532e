"""Persisted queries: clients send a document's SHA-256 instead of its text.

Two modes, as frontends use them:

- ``apq``: Automatic Persisted Queries (the protocol of Apollo Client's persisted-query link and
  urql): a request with ``extensions.persistedQuery {version: 1, sha256Hash}`` and no text is served
  from the documents seen before; an unknown hash answers ``PersistedQueryNotFound``, and the client
  sends the text with the hash once, which is checked and kept (bounded, least recently used first).
  Requests with plain text work as before.
- ``trusted``: only documents in the operator's allow-list run (a JSON manifest of hash → text,
  e.g. produced by the frontend's build); plain text is accepted only if it is in the list too. For
  production: a caller cannot run a document nobody reviewed.

GraphQL-free: this maps a request's ``query`` and ``extensions`` to the text to run, or to an error.
"""

from __future__ import annotations

import enum
import hashlib
import json
from collections import OrderedDict
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from gateway.config import PERSISTED_QUERY_MODES

if TYPE_CHECKING:
    from collections.abc import Mapping
    from pathlib import Path

__all__ = [
    "PersistedQueries",
    "PersistedQueryError",
    "Problem",
    "load_manifest",
    "sha256_hex",
]

MAX_DOCUMENT_CHARS = 100_000


class Problem(enum.Enum):
    """Each refusal's message (what APQ clients match on) and ``extensions.code``."""

    NOT_FOUND = ("PersistedQueryNotFound", "PERSISTED_QUERY_NOT_FOUND")
    NOT_SUPPORTED = ("PersistedQueryNotSupported", "PERSISTED_QUERY_NOT_SUPPORTED")
    HASH_MISMATCH = (
        "provided sha256Hash does not match the query",
        "PERSISTED_QUERY_HASH_MISMATCH",
    )
    BAD_EXTENSION = (
        "extensions.persistedQuery must be {version: 1, sha256Hash: <64 hex>}",
        "BAD_USER_INPUT",
    )
    NOT_TRUSTED = (
        "only trusted documents run here: send the sha256Hash of a document in the allow-list",
        "PERSISTED_QUERY_NOT_TRUSTED",
    )

    @property
    def message(self) -> str:
        return self.value[0]

    @property
    def code(self) -> str:
        return self.value[1]


class PersistedQueryError(Exception):
    def __init__(self, problem: Problem) -> None:
        super().__init__(problem.message)
        self.problem = problem


def sha256_hex(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


def load_manifest(path: Path) -> dict[str, str]:
    """An allow-list file: ``{"<sha256>": "<document>"}``, or the Apollo/Relay style
    ``{"operations": [{"id"|"sha256Hash": …, "body"|"query": …}]}``; each hash is checked."""
    raw: Any = json.loads(path.read_text(encoding="utf-8"))
    pairs: list[tuple[str, str]]
    if isinstance(raw, dict) and isinstance(raw.get("operations"), list):
        pairs = [
            (str(op.get("sha256Hash") or op.get("id")), str(op.get("body") or op.get("query")))
            for op in raw["operations"]
        ]
    elif isinstance(raw, dict):
        pairs = [(str(k), str(v)) for k, v in raw.items()]
    else:
        raise ValueError("expected a JSON object of sha256 -> document")
    manifest: dict[str, str] = {}
    for digest, text in pairs:
        if sha256_hex(text) != digest.lower():
            raise ValueError(f"{digest[:16]}…: the hash is not the SHA-256 of its document")
        manifest[digest.lower()] = text
    return manifest


@dataclass(frozen=True, slots=True)
class _Requested:
    digest: str


def _requested_hash(extensions: Mapping[str, Any] | None) -> _Requested | None:
    if not extensions or "persistedQuery" not in extensions:
        return None
    persisted = extensions["persistedQuery"]
    if not isinstance(persisted, dict) or persisted.get("version") != 1:
        raise PersistedQueryError(Problem.BAD_EXTENSION)
    digest = persisted.get("sha256Hash")
    if not isinstance(digest, str) or len(digest) != 64:
        raise PersistedQueryError(Problem.BAD_EXTENSION)
    try:
        int(digest, 16)
    except ValueError:
        raise PersistedQueryError(Problem.BAD_EXTENSION) from None
    return _Requested(digest.lower())


class PersistedQueries:
    def __init__(
        self, *, mode: str, max_entries: int = 1000, trusted: Mapping[str, str] | None = None
    ) -> None:
        if mode not in PERSISTED_QUERY_MODES:
            raise ValueError(f"mode must be one of {PERSISTED_QUERY_MODES}")
        self.mode = mode
        self._max_entries = max_entries
        self._trusted = dict(trusted or {})
        self._trusted_texts = frozenset(self._trusted.values())
        self._seen: OrderedDict[str, str] = OrderedDict()

    def __len__(self) -> int:
        return len(self._seen)

    def is_trusted(self, query: str) -> bool:
        """Whether ``query`` is a document of the allow-list (``trusted`` mode); the gate asks
        this of every operation, whichever transport carried it."""
        return query in self._trusted_texts

    def resolve(self, query: str | None, extensions: Mapping[str, Any] | None) -> str | None:
        """The document to run (None: the request had neither text nor hash), or raise."""
        requested = _requested_hash(extensions) if self.mode != "off" else None
        if self.mode == "off":
            if extensions and "persistedQuery" in extensions and not query:
                raise PersistedQueryError(Problem.NOT_SUPPORTED)
            return query
        if self.mode == "trusted":
            if requested is not None:
                text = self._trusted.get(requested.digest)
                if text is None or (query is not None and query != text):
                    raise PersistedQueryError(Problem.NOT_TRUSTED)
                return text
            return query  # the gate refuses a text that is not in the list, on every transport
        if requested is None:
            return query
        if query is None:
            text = self._seen.get(requested.digest)
            if text is None:
                raise PersistedQueryError(Problem.NOT_FOUND)
            self._seen.move_to_end(requested.digest)
            return text
        if sha256_hex(query) != requested.digest:
            raise PersistedQueryError(Problem.HASH_MISMATCH)
        if len(query) <= MAX_DOCUMENT_CHARS:
            self._seen[requested.digest] = query
            self._seen.move_to_end(requested.digest)
            while len(self._seen) > self._max_entries:
                self._seen.popitem(last=False)
        return query
