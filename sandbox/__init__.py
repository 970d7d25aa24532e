"""Simulated upstreams of every kind, over real HTTP, for the demo, the tests and the benchmark.

- ``app``: Sandbox (seeded stores, counters, faults) and its Starlette app.
- ``state``: Stats and Faults, shared by the middleware and the ``/_sandbox`` admin API.
- ``rotavision`` … : one module per upstream kind: seed data, routes and its ``TWIN``.
- ``registry``: every kind's twin (one line each): what the demo and the banner read.
"""

from sandbox.app import Sandbox, SandboxConfig, summary
from sandbox.registry import SANDBOX_CREDENTIALS, TWINS
from sandbox.state import Faults, Stats

__all__ = ["SANDBOX_CREDENTIALS", "TWINS", "Faults", "Sandbox", "SandboxConfig", "Stats", "summary"]
