"""Upstream execution APIs, turned into one plain-Python model.

- ``model``: Execution, Step, Approval and their enums (frozen dataclasses, no GraphQL, no HTTP).
- ``errors``: the UpstreamError tree, each class carrying the gateway's ``extensions.code``.
- ``engine``: the one HTTP engine (per source: timeouts, limits, retries, error classification).
- ``resilience``: the circuit breaker, the retry budget and the request deadline it applies.
- ``transports``: what carries a request (httptools, aiohttp, httpx), proxy and TLS rules alike.
- ``jsonio``: ``loads_json``, the one JSON reader for upstream and client bodies.
- ``_parse``: tolerant readers shared by the pure parsers.
- ``base``: SourceAdapter, Capability, Credentials.
- ``rotavision`` … : one module per upstream kind: a pure ``parse_*`` part and a thin client.
- ``registry``: kind → adapter class.

Import direction: ``gateway`` imports ``adapters``; ``adapters`` imports nothing of ``gateway``.
"""
