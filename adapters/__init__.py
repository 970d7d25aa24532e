"""Upstream execution APIs, turned into one plain-Python model.

- ``model``: Execution, Step, Approval and their enums (frozen dataclasses, no GraphQL, no HTTP).
- ``errors``: the UpstreamError tree, each class carrying the gateway's ``extensions.code``.
- ``engine``: the one HTTP engine (per source: timeouts, limits, retries, error classification).
- ``resilience``: the circuit breaker, the retry budget and the request deadline it applies.
- ``transports``: what carries a request (httptools, aiohttp, httpx), proxy and TLS rules alike.
- ``jsonio``: ``loads_json``, the one JSON reader for upstream and client bodies.
- ``_parse``: tolerant readers shared by the pure parsers.
- ``base``: SourceAdapter, Capability, Credentials.
- ``declarations``: what a kind declares for the generic code: secrets, typed options, webhooks.
- ``webhook_parsing``: tolerant readers the kinds' webhook event readers share.
- ``rotavision`` … : one module per upstream kind: a pure ``parse_*`` part, a thin client, its
  declarations and its webhook reader.
- ``registry``: kind → adapter class.

A new kind touches exactly: its module here, its ``SourceKind`` member in ``model``, one line in
``registry``, its sandbox twin (``sandbox/<kind>.py``) and one line in ``sandbox/registry.py``
(docs/adding-a-source.md; tests/house/test_fifth_vendor.py proves it).

Import direction: ``gateway`` imports ``adapters``; ``adapters`` imports nothing of ``gateway``.
"""
