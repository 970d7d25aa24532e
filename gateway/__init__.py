"""The execution gateway: one GraphQL API over several execution APIs.

- ``config``: the TOML file, validated; secrets from the environment.
- ``app``: the Starlette app (``/graphql``, ``/healthz``) and its lifespan.
- ``runtime``: process-long state: one adapter per source, the store, the counters.
- ``store``: the cross-request cache with single flight; ``loaders``: per-request DataLoaders.
- ``schema/``: the strawberry types, Query, and error classification (``errors``).
- ``ids``: global ids and the checks every client id passes before any upstream call.
- ``cli``: the ``gateway`` command; ``demo``: the sandbox-backed default.

Import direction: ``gateway`` → ``adapters`` (and ``sandbox`` for the demo only).
"""

__version__ = "0.1.0"
