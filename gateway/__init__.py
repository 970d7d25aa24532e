"""The execution gateway: one GraphQL API over several execution APIs.

Layers, each importing only those below it:

- ``http/``: the Starlette app, authentication, rate limits, request guards, probes.
- ``schema/``: GraphQL only: strawberry types and thin resolvers over the core's use cases,
  the operation's limits and cost, and the per-request context.
- ``core/``: GraphQL-free state and use cases: the runtime, store, loaders, feed merge, cursors,
  ids, decisions, errors.
- ``ops/``: request records, logs, metrics, tracing, per-source stats.
- ``config``: the TOML file, validated; secrets from the environment.
- ``cli``: the ``gateway`` command; ``demo``: the sandbox-backed default.

Below them all: ``adapters`` (and ``sandbox`` for the demo only).
"""

__version__ = "0.1.0"
