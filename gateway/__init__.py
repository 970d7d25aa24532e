"""The execution gateway: one GraphQL API over several execution APIs.

- ``config``: the TOML file, validated; secrets from the environment.
- ``app``: the Starlette app assembled from routes, middleware and the runtime's lifespan.
- ``runtime``: process-long state: one adapter per source, the store, decisions, cursors, counters.
- ``store``: the cross-request cache with single flight; ``loaders``: per-request loaders.
- ``schema/``: the strawberry types, Query, Mutation, connections (feed, pending approvals).
- ``errors``: stable ``extensions.code`` for every error; ``ids``: global ids, checked before any
  upstream call; ``cursors``: signed connection cursors; ``merge``: the feed's k-way merge.
- ``decisions``: approve/reject exactly once, with the audit record.
- HTTP edge: ``auth``, ``rate_limit``, ``http_guards`` (body size, content types, GET rules),
  ``limits`` (depth, aliases, tokens, size, cost), ``deadline``.
- Operations: ``observe`` (request records), ``logs``, ``metrics``, ``probes``, ``tracing``.
- ``cli``: the ``gateway`` command; ``demo``: the sandbox-backed default; ``threaded_server``: uvicorn
  on a background thread (the demo's sandbox, the metrics port).

Import direction: ``gateway`` → ``adapters`` (and ``sandbox`` for the demo only).
"""

__version__ = "0.1.0"
