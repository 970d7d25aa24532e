"""Simulated upstreams of every kind, over real HTTP, for the demo, the tests and the benchmark.

- ``app``: Sandbox (seeded stores, counters, faults) and its Starlette app.
- ``state``: Stats and Faults, shared by the middleware and the ``/_sandbox`` admin API.
- ``rotavision`` … : one module per upstream kind: seed data and routes.
"""

from sandbox.app import SANDBOX_CREDENTIALS, Sandbox, SandboxConfig, summary
from sandbox.state import Faults, Stats

__all__ = ["SANDBOX_CREDENTIALS", "Faults", "Sandbox", "SandboxConfig", "Stats", "summary"]
