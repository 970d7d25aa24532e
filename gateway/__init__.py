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

from __future__ import annotations

from functools import cache


@cache
def _installed_version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("execution-gateway")
    except PackageNotFoundError:  # run from a checkout that was never installed
        return "unknown"


def __getattr__(name: str) -> str:
    """``__version__``: pyproject.toml's version, from the installed package's metadata, so the
    version is written in one place; read on first use, not at every import."""
    if name == "__version__":
        return _installed_version()
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
