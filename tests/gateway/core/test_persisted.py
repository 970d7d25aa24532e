"""Persisted queries: APQ's register-then-hash dance, and the trusted-documents allow-list."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING

import pytest

from gateway.core.persisted import (
    PersistedQueries,
    PersistedQueryError,
    Problem,
    load_manifest,
    sha256_hex,
)

if TYPE_CHECKING:
    from pathlib import Path

DOC = '{ execution(id: "rv:1") { id } }'


def ext(digest: str, version: int = 1) -> dict[str, object]:
    return {"persistedQuery": {"version": version, "sha256Hash": digest}}


def problem_of(
    store: PersistedQueries, query: str | None, extensions: dict[str, object] | None
) -> Problem:
    with pytest.raises(PersistedQueryError) as raised:
        store.resolve(query, extensions)
    return raised.value.problem


def test_apq_unknown_hash_then_register_then_hash_alone() -> None:
    store = PersistedQueries(mode="apq")
    digest = sha256_hex(DOC)
    assert problem_of(store, None, ext(digest)) is Problem.NOT_FOUND
    assert store.resolve(DOC, ext(digest)) == DOC
    assert store.resolve(None, ext(digest)) == DOC
    assert store.resolve(DOC, None) == DOC  # plain text still works


def test_apq_refuses_a_hash_that_is_not_the_documents() -> None:
    store = PersistedQueries(mode="apq")
    assert problem_of(store, DOC, ext("0" * 64)) is Problem.HASH_MISMATCH
    assert len(store) == 0


@pytest.mark.parametrize(
    "extensions",
    [
        {"persistedQuery": "x"},
        {"persistedQuery": {"version": 2, "sha256Hash": "0" * 64}},
        {"persistedQuery": {"version": 1, "sha256Hash": "abc"}},
        {"persistedQuery": {"version": 1, "sha256Hash": "z" * 64}},
    ],
)
def test_a_malformed_extension_is_bad_input(extensions: dict[str, object]) -> None:
    assert problem_of(PersistedQueries(mode="apq"), None, extensions) is Problem.BAD_EXTENSION


def test_apq_keeps_a_bounded_number_of_documents() -> None:
    store = PersistedQueries(mode="apq", max_entries=2)
    docs = [f"{{ a{n}: __typename }}" for n in range(3)]
    for doc in docs:
        store.resolve(doc, ext(sha256_hex(doc)))
    assert len(store) == 2
    assert problem_of(store, None, ext(sha256_hex(docs[0]))) is Problem.NOT_FOUND
    assert store.resolve(None, ext(sha256_hex(docs[2]))) == docs[2]


def test_off_says_persisted_queries_are_not_supported() -> None:
    store = PersistedQueries(mode="off")
    assert problem_of(store, None, ext(sha256_hex(DOC))) is Problem.NOT_SUPPORTED
    assert store.resolve(DOC, ext(sha256_hex(DOC))) == DOC


def test_trusted_runs_only_listed_documents() -> None:
    """A hash reads as its listed text; a text passes through, and the gate asks
    ``is_trusted`` of it on every transport (tests/gateway/gate/test_matrix.py)."""
    other = "{ sources { name } }"
    store = PersistedQueries(mode="trusted", trusted={sha256_hex(DOC): DOC})
    assert store.resolve(None, ext(sha256_hex(DOC))) == DOC
    assert store.resolve(DOC, None) == DOC
    assert store.resolve(other, None) == other
    assert store.is_trusted(DOC)
    assert not store.is_trusted(other)
    assert problem_of(store, None, ext(sha256_hex(other))) is Problem.NOT_TRUSTED
    assert problem_of(store, other, ext(sha256_hex(other))) is Problem.NOT_TRUSTED  # no registering


def test_manifests_in_both_shapes_are_read_and_checked(tmp_path: Path) -> None:
    flat = tmp_path / "flat.json"
    flat.write_text(json.dumps({sha256_hex(DOC): DOC}))
    assert load_manifest(flat) == {sha256_hex(DOC): DOC}
    listed = tmp_path / "listed.json"
    listed.write_text(json.dumps({"operations": [{"id": sha256_hex(DOC), "body": DOC}]}))
    assert load_manifest(listed) == {sha256_hex(DOC): DOC}
    wrong = tmp_path / "wrong.json"
    wrong.write_text(json.dumps({"0" * 64: DOC}))
    with pytest.raises(ValueError, match="not the SHA-256"):
        load_manifest(wrong)
