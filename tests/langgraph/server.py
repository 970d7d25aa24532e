"""LangGraph's real Agent Server for the tests: the sandbox's own launcher (sandbox/agent_server),
with the ``langgraph`` command required in CI and the tests skipped without it locally."""

from __future__ import annotations

import json
import os
import shlex
from typing import TYPE_CHECKING

import pytest

from sandbox.agent_server import GRAPHS, AgentServer, langgraph_command

if TYPE_CHECKING:
    from pathlib import Path

__all__ = ["agent_server"]

LOOPBACK_WEBHOOKS = {"url": {"disable_loopback": False, "require_https": False}}
"""The server's documented opt-ins for webhooks to loopback addresses (refused by default, 422 on
run creation) over plain HTTP (required once a ``url`` policy is given): the gateway under test
listens on http://127.0.0.1."""


def agent_server(workdir: Path, *, loopback_webhooks: bool = False) -> AgentServer:
    """A server not yet started; skips without the extra locally, fails in CI (scripts/install
    installs it there). ``loopback_webhooks``: it may post run webhooks to 127.0.0.1."""
    command = langgraph_command()
    if command is None:
        if os.environ.get("CI"):
            pytest.fail("langgraph-cli is not installed: scripts/install installs the extra")
        pytest.skip("the langgraph extra is not installed (pip install -e '.[langgraph]')")
    if loopback_webhooks:
        command = _with_webhooks_config(workdir, command)
    return AgentServer(workdir, command)


def _with_webhooks_config(workdir: Path, command: Path) -> Path:
    """The sandbox's ``langgraph.json`` plus ``webhooks``, passed as ``--config``: the launcher
    copies its own ``langgraph.json`` over the workdir's, and ``langgraph dev`` overrides a
    ``LANGGRAPH_WEBHOOKS`` from the environment with the file's (none)."""
    workdir.mkdir(parents=True, exist_ok=True)
    config = json.loads((GRAPHS / "langgraph.json").read_text()) | {"webhooks": LOOPBACK_WEBHOOKS}
    config_path = workdir / "langgraph.webhooks.json"
    config_path.write_text(json.dumps(config))
    wrapper = workdir.parent / f"{workdir.name}-langgraph"
    wrapper.write_text(
        f'#!/bin/sh\nexec {shlex.quote(str(command))} "$@" --config {shlex.quote(str(config_path))}\n'
    )
    wrapper.chmod(0o755)
    return wrapper
