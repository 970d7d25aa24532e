"""Upstream execution APIs, turned into one plain-Python model.

- ``model``: Execution, Step, Approval and their enums (frozen dataclasses, no GraphQL, no HTTP).
- ``errors``: the UpstreamError tree, each class carrying the gateway's ``extensions.code``.
- ``_http``: the one HTTP engine (client per source, timeouts, limits, error classification).
- ``_parse``: tolerant readers shared by the pure parsers.
- ``base``: SourceAdapter, Capability, Credentials.
- ``rotavision`` … : one module per upstream kind: a pure ``parse_*`` part and a thin client.
- ``registry``: kind → adapter class.

Import direction: ``gateway`` imports ``adapters``; ``adapters`` imports nothing of ``gateway``.
"""
